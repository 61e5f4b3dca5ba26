//! The patterns client advice looks for in one caller's reads: an N+1 burst (many gets by id
//! on one collection soon after a list), a large offset, `count=true` on page after page of a
//! large collection, and a whole collection read page by page without a filter. Each is found
//! once, when the read completing it arrives; the caller's state remembers what was reported.

use fathom_architect::FindingKind;

use super::recorder::{CallerState, PageRun, Read, ReadKind};
use super::settings::ClientAdviceSettings;

/// A pattern found in one caller's reads, with the figures that make it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// `gets` gets by id on `target` within `span_ms` after a list of the collection.
    NPlusOne {
        target: u16,
        gets: usize,
        span_ms: u64,
    },
    LargeOffset {
        offset: u64,
        limit: u32,
    },
    CountEveryPage {
        pages: u32,
        total: u64,
    },
    UnboundedScan {
        pages: u32,
        rows: u64,
        reached_end: bool,
    },
}

impl Pattern {
    pub fn kind(&self) -> FindingKind {
        match self {
            Self::NPlusOne { .. } => FindingKind::NPlusOne,
            Self::LargeOffset { .. } => FindingKind::LargeOffset,
            Self::CountEveryPage { .. } => FindingKind::CountEveryPage,
            Self::UnboundedScan { .. } => FindingKind::UnboundedScan,
        }
    }
}

/// Adds `read` to the caller's window and returns the patterns it completes, each once: a
/// burst is reported when it reaches the threshold, a run of pages when it first qualifies.
pub fn observe(
    caller: &mut CallerState,
    read: Read,
    settings: &ClientAdviceSettings,
) -> Vec<(u16, Pattern)> {
    caller.push(read);
    let mut found = Vec::new();
    match read.kind {
        ReadKind::Get => {
            if let Some(burst) = n_plus_one(caller, &read, settings) {
                found.push(burst);
            }
        }
        ReadKind::List => {
            if !read.cursor && read.offset >= settings.large_offset {
                found.push((
                    read.collection,
                    Pattern::LargeOffset {
                        offset: read.offset,
                        limit: read.limit,
                    },
                ));
            }
            found.extend(follow_pages(caller, &read, settings));
        }
    }
    found
}

/// An N+1 burst completed by the get `read`: enough gets on its collection since the caller's
/// last list, all within the window after that list, not reported yet.
fn n_plus_one(
    caller: &mut CallerState,
    read: &Read,
    settings: &ClientAdviceSettings,
) -> Option<(u16, Pattern)> {
    let (list_seq, list) = caller
        .reads()
        .rev()
        .find(|(_, r)| r.kind == ReadKind::List)
        .map(|(seq, r)| (seq, *r))?;
    let within = |r: &Read| r.at.saturating_duration_since(list.at) <= settings.n_plus_one_window;
    if !within(read) || caller.burst_reported == Some(list_seq) {
        return None;
    }
    let gets = caller
        .reads()
        .filter(|(seq, r)| {
            *seq > list_seq
                && r.kind == ReadKind::Get
                && r.collection == read.collection
                && within(r)
        })
        .count();
    if gets < settings.n_plus_one_gets {
        return None;
    }
    caller.burst_reported = Some(list_seq);
    let span = read.at.saturating_duration_since(list.at);
    Some((
        list.collection,
        Pattern::NPlusOne {
            target: read.collection,
            gets,
            span_ms: u64::try_from(span.as_millis()).unwrap_or(u64::MAX),
        },
    ))
}

/// Follows the caller's run of pages with the list `read`, and reports the run once when it
/// asks for the count on page after page of a large collection, or when it reads a large
/// collection page after page without a filter.
fn follow_pages(
    caller: &mut CallerState,
    read: &Read,
    settings: &ClientAdviceSettings,
) -> Vec<(u16, Pattern)> {
    let returned = u64::from(read.returned.unwrap_or(read.limit));
    let continues = caller.run.is_some_and(|run| {
        run.collection == read.collection
            && (read.cursor || (read.offset > 0 && read.offset == run.next_offset))
    });
    let run = match (&mut caller.run, continues) {
        (Some(run), true) => {
            run.pages += 1;
            run.rows += returned;
            run.filtered |= read.filtered;
            run
        }
        (slot, _) => slot.insert(PageRun {
            collection: read.collection,
            pages: 1,
            counted: 0,
            rows: returned,
            next_offset: 0,
            total: None,
            filtered: read.filtered,
            reached_end: false,
            started: read.at,
            scan_reported: false,
            count_reported: false,
        }),
    };
    run.next_offset = read.offset + returned;
    run.counted = if read.count { run.counted + 1 } else { 0 };
    run.total = run.total.max(read.total);
    run.reached_end = !read.full();
    let mut found = Vec::new();
    let total = run.total.unwrap_or(0);
    if !run.count_reported
        && run.counted >= settings.count_pages
        && total >= settings.large_collection
    {
        run.count_reported = true;
        found.push((
            run.collection,
            Pattern::CountEveryPage {
                pages: run.counted,
                total,
            },
        ));
    }
    if !run.scan_reported
        && !run.filtered
        && run.pages >= settings.scan_pages
        && run.rows.max(total) >= settings.large_collection
    {
        run.scan_reported = true;
        found.push((
            run.collection,
            Pattern::UnboundedScan {
                pages: run.pages,
                rows: run.rows,
                reached_end: run.reached_end,
            },
        ));
    }
    found
}
