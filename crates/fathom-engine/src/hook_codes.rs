//! The codes of an application's own that its before-write hooks refuse writes with
//! ([`HookCode`]). An application declares them up front (`Hooks::declare`, the library's
//! `FathomBuilder::error_codes`), so that every transport can document them: the OpenAPI
//! document lists them beside Fathom's stable codes, with their statuses on the writes that run
//! hooks.

use fathom_core::ErrorCode;

use crate::hooks::HookRefusal;

/// One code of the application's own: `code` (snake case, such as `out_of_stock`), the 4xx
/// `status` it is answered with, and a short `title` for the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookCode {
    pub code: &'static str,
    pub status: u16,
    pub title: &'static str,
}

impl HookCode {
    pub const fn new(code: &'static str, status: u16, title: &'static str) -> Self {
        Self {
            code,
            status,
            title,
        }
    }

    /// A refusal with this code and status.
    pub fn refuse(&self, detail: impl Into<String>, hint: impl Into<String>) -> HookRefusal {
        HookRefusal::new(self.status, self.code, detail, hint)
    }
}

/// What is wrong with a set of declared codes: a code not in snake case, a status outside
/// 4xx, a code Fathom uses itself, a code declared twice.
pub fn declaration_problems(codes: &[HookCode]) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, declared) in codes.iter().enumerate() {
        let code = declared.code;
        let snake = code.len() <= 64
            && code.starts_with(|c: char| c.is_ascii_lowercase())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake {
            problems.push(format!(
                "the error code `{code}` must be snake case: a lowercase letter, then lowercase letters, digits or `_` (64 at most)"
            ));
        }
        if !(400..500).contains(&declared.status) {
            problems.push(format!(
                "the error code `{code}` is declared with the status {}; a hook refuses input, so its codes are 4xx",
                declared.status
            ));
        }
        if ErrorCode::ALL.iter().any(|known| known.as_str() == code) {
            problems.push(format!(
                "the error code `{code}` is one of Fathom's own; give the application's refusal a code of its own"
            ));
        }
        if codes[..index].iter().any(|earlier| earlier.code == code) {
            problems.push(format!("the error code `{code}` is declared twice"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_codes_pass_and_every_problem_is_named() {
        let good = [
            HookCode::new("out_of_stock", 409, "Out of stock"),
            HookCode::new("cart_empty", 422, "Empty cart"),
        ];
        assert!(declaration_problems(&good).is_empty());
        let bad = [
            HookCode::new("Out-Of-Stock", 409, ""),
            HookCode::new("late", 503, ""),
            HookCode::new("record_not_found", 404, ""),
            HookCode::new("cart_empty", 422, ""),
            HookCode::new("cart_empty", 409, ""),
        ];
        let problems = declaration_problems(&bad);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].contains("snake case"));
        assert!(problems[1].contains("4xx"));
        assert!(problems[2].contains("Fathom's own"));
        assert!(problems[3].contains("declared twice"));
    }
}
