//! Small helpers for names and for writing messages: name rules, "did you mean" suggestions and
//! lists of allowed words.

/// Longest collection or field name: it becomes part of SQL identifiers and index names.
const MAX_NAME_LEN: usize = 63;

/// Whether `name` matches `^[a-z][a-z0-9_]{0,62}$`.
pub(super) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= MAX_NAME_LEN
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A valid name close to `name`: lowercased, `camelCase` split with underscores, other characters
/// turned into underscores. `prefix` is put in front when the result would not start with a
/// letter, and stands alone when nothing usable is left.
pub(super) fn rewrite_name(name: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut after_lower_or_digit = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if after_lower_or_digit {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            after_lower_or_digit = false;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
            after_lower_or_digit = true;
        } else {
            out.push('_');
            after_lower_or_digit = false;
        }
    }
    let mut collapsed = String::new();
    for part in out.split('_').filter(|part| !part.is_empty()) {
        if !collapsed.is_empty() {
            collapsed.push('_');
        }
        collapsed.push_str(part);
    }
    let mut result = if collapsed.is_empty() {
        prefix.to_owned()
    } else if collapsed.starts_with(|c: char| c.is_ascii_lowercase()) {
        collapsed
    } else {
        format!("{prefix}_{collapsed}")
    };
    // Only ASCII is left, so cutting at any byte is cutting at a character.
    result.truncate(MAX_NAME_LEN);
    result.truncate(result.trim_end_matches('_').len());
    result
}

/// Levenshtein distance between two words, in characters.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let replace = previous[j] + usize::from(ca != cb);
            current[j + 1] = replace.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The candidate `word` is most likely a typo of: at most two edits away (ignoring case), and
/// fewer edits than half its length so that short words do not match everything.
pub(super) fn closest<'c, S: AsRef<str>>(word: &str, candidates: &'c [S]) -> Option<&'c str> {
    // Long words cannot be two edits from any candidate; skip the quadratic work.
    if word.len() > 100 {
        return None;
    }
    let word = word.to_lowercase();
    let limit = 2.min(word.chars().count() / 2);
    candidates
        .iter()
        .map(|c| (edit_distance(&word, c.as_ref()), c.as_ref()))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// "`a`, `b`, `c`".
pub(super) fn list<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| format!("`{}`", w.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "Did you mean `x`? " when `word` looks like a typo of one of `candidates`, else "".
pub(super) fn did_you_mean<S: AsRef<str>>(word: &str, candidates: &[S]) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("Did you mean `{c}`? "))
}

/// "1st", "2nd", "3rd", "4th", "11th", "22nd".
pub(super) fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("type", "type"), 0);
        assert_eq!(edit_distance("tpye", "type"), 2);
        assert_eq!(edit_distance("requird", "required"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("é", "e"), 1);
    }

    #[test]
    fn closest_suggests_only_near_typos() {
        let keys = ["type", "required", "unique", "min", "max"];
        assert_eq!(closest("requried", &keys), Some("required"));
        assert_eq!(closest("Type", &keys), Some("type"));
        assert_eq!(closest("x", &keys), None);
        assert_eq!(closest("colour", &keys), None);
    }

    #[test]
    fn ordinals_have_english_suffixes() {
        let words: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111]
            .map(ordinal)
            .to_vec();
        assert_eq!(
            words,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th"
            ]
        );
    }

    #[test]
    fn names_follow_the_identifier_rule() {
        assert!(is_valid_name("products"));
        assert!(is_valid_name("a"));
        assert!(is_valid_name("order_items_2"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("_x"));
        assert!(!is_valid_name("2fa"));
        assert!(!is_valid_name("Products"));
        assert!(!is_valid_name("order-items"));
        assert!(is_valid_name(&"a".repeat(63)));
        assert!(!is_valid_name(&"a".repeat(64)));
    }

    #[test]
    fn rewrite_name_produces_a_valid_name() {
        assert_eq!(rewrite_name("OrderItems", "app"), "order_items");
        assert_eq!(rewrite_name("order-items", "app"), "order_items");
        assert_eq!(rewrite_name("Order Items", "app"), "order_items");
        assert_eq!(rewrite_name("_secret", "field"), "secret");
        assert_eq!(rewrite_name("2fa", "field"), "field_2fa");
        assert_eq!(rewrite_name("HTTPServer", "app"), "httpserver");
        assert_eq!(rewrite_name("ünïcode", "field"), "n_code");
        assert_eq!(rewrite_name("---", "field"), "field");
        assert_eq!(rewrite_name(&"A".repeat(80), "app").len(), 63);
        for name in ["OrderItems", "2fa", "---", "a__b_", &"x_".repeat(40)] {
            assert!(is_valid_name(&rewrite_name(name, "field")), "{name}");
        }
    }
}
