//! Keeping `docs/BENCHMARKS.md` current: the generated part of its top section (figures,
//! machine, date, settings) sits between two markers and is replaced after each run; the prose
//! around it is written by hand.

use anyhow::{Context, ensure};

use crate::report::realtime::{
    cache_cost_table, encryption_cost_table, engine_cost_table, ops_cost_table, outbox_cost_table,
    realtime_table, shapes_cost_table,
};
use crate::report::{results_footer, results_table};
use crate::results::Results;

pub const BEGIN: &str = "<!-- fathom-bench:results:begin -->";
pub const END: &str = "<!-- fathom-bench:results:end -->";

/// The generated Markdown for `results`.
pub fn results_section(results: &Results) -> String {
    format!("{}{}", main_section(results), extra_tables(results))
}

/// The W5 and outbox-cost tables of a run (empty when it had neither), for the docs and the
/// terminal.
pub fn extra_tables(results: &Results) -> String {
    let mut out = String::new();
    if let Some(realtime) = &results.realtime {
        out.push_str("\n#### W5: realtime delivery\n\n");
        out.push_str(&realtime_table(realtime));
    }
    if let Some(cost) = &results.outbox_cost {
        out.push_str("\n#### The outbox's write cost: W1 before and after the outbox\n\n");
        out.push_str(&outbox_cost_table(cost));
    }
    if let Some(cost) = &results.encryption_cost {
        out.push_str("\n#### The cost of encrypted fields: W1 and W2, and key rotation\n\n");
        out.push_str(&encryption_cost_table(cost));
    }
    if let Some(cost) = &results.ops_cost {
        out.push_str("\n#### The cost of metrics, rate limits and traces on W2\n\n");
        out.push_str(&ops_cost_table(cost));
    }
    if let Some(cost) = &results.cache_cost {
        out.push_str("\n#### The result cache: W3 with count=true, cached and not\n\n");
        out.push_str(&cache_cost_table(cost));
    }
    if let Some(cost) = &results.shapes_cost {
        out.push_str("\n#### Architect: cost of shape recording on W2 and W3\n\n");
        out.push_str(&shapes_cost_table(cost));
    }
    if let Some(cost) = &results.engine_cost {
        out.push_str("\n#### The records engine's cost: W1–W4 before and after the engine\n\n");
        out.push_str(&engine_cost_table(cost));
    }
    out
}

fn main_section(results: &Results) -> String {
    let s = &results.settings;
    format!(
        "Run of {date}: {records} records, {seconds:.0} s per workload and server in {rounds} \
         alternating rounds, durability \
         `{durability}` on both servers (`synchronous=FULL` for `full`), {users} non-admin users \
         own the rows.\n\nMachine: {machine}.\n\n{table}\n{footer}\n![Fathom vs baseline: \
         throughput and p95 latency per workload](bench-chart.svg)\n",
        date = results.date,
        records = s.records,
        seconds = s.seconds_per_workload,
        rounds = s.rounds,
        durability = s.durability,
        users = s.users,
        machine = results.machine.describe(),
        table = results_table(results),
        footer = results_footer(results),
    )
}

/// `document` with the text between the markers replaced by `content`.
pub fn replace_between_markers(document: &str, content: &str) -> anyhow::Result<String> {
    let begin = document
        .find(BEGIN)
        .with_context(|| format!("the document has no {BEGIN} marker"))?;
    let end = document
        .find(END)
        .with_context(|| format!("the document has no {END} marker"))?;
    ensure!(begin < end, "{BEGIN} must come before {END}");
    Ok(format!(
        "{}{BEGIN}\n{}\n{}",
        &document[..begin],
        content.trim_end(),
        &document[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_between_the_markers() {
        let doc = format!("# Title\n\nProse.\n\n{BEGIN}\nold figures\n{END}\n\nMore prose.\n");
        let new = replace_between_markers(&doc, "new figures\n").expect("markers");
        assert_eq!(
            new,
            format!("# Title\n\nProse.\n\n{BEGIN}\nnew figures\n{END}\n\nMore prose.\n")
        );
        assert_eq!(
            replace_between_markers(&new, "new figures").expect("markers"),
            new,
            "idempotent"
        );
        assert!(replace_between_markers("# no markers", "x").is_err());
        assert!(replace_between_markers(&format!("{END}{BEGIN}"), "x").is_err());
    }
}
