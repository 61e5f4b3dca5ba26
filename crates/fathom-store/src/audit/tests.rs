//! The chain's hash and the verifier, without a database.

use super::*;

fn entry(action: &str) -> AuditEntry {
    AuditEntry {
        action: action.into(),
        outcome: "success".into(),
        ..AuditEntry::default()
    }
}

fn genesis() -> AuditHead {
    AuditHead {
        seq: 0,
        hash: GENESIS.to_owned(),
    }
}

fn log(n: usize) -> Vec<AuditRecord> {
    let entries: Vec<_> = (0..n).map(|i| entry(&format!("a{i}"))).collect();
    chain(&genesis(), "2026-01-01T00:00:00.000Z", &entries)
}

fn head_of(records: &[AuditRecord]) -> AuditHead {
    let last = records.last().expect("a record");
    AuditHead {
        seq: last.seq,
        hash: last.hash.clone(),
    }
}

fn verify(records: &[AuditRecord], head: &AuditHead) -> Result<(), ChainBreak> {
    let mut verifier = Verifier::new();
    for r in records {
        verifier.next(r)?;
    }
    verifier.finish(head)
}

#[test]
fn a_chain_as_written_verifies_and_the_hash_is_framed() {
    let records = log(5);
    assert_eq!(records[0].prev_hash, GENESIS);
    assert_eq!(records[1].prev_hash, records[0].hash);
    verify(&records, &head_of(&records)).expect("verifies");
    // Moving text from one field to the next changes the hash.
    let a = AuditEntry {
        actor: Some("ab".into()),
        target: Some("c".into()),
        ..entry("x")
    };
    let b = AuditEntry {
        actor: Some("a".into()),
        target: Some("bc".into()),
        ..entry("x")
    };
    assert_ne!(
        chain_hash(1, "t", &a, GENESIS),
        chain_hash(1, "t", &b, GENESIS)
    );
    verify(&[], &genesis()).expect("an empty log verifies");
}

#[test]
fn an_altered_entry_is_named() {
    let mut records = log(5);
    records[2].entry.changed = vec!["price".into()];
    let head = head_of(&records);
    let broken = verify(&records, &head).expect_err("altered");
    assert_eq!((broken.seq, broken.kind), (3, BreakKind::Altered));
}

#[test]
fn removed_entries_are_named_in_the_middle_at_the_start_and_at_the_end() {
    let records = log(5);
    let head = head_of(&records);
    let mut middle = records.clone();
    middle.remove(2);
    let broken = verify(&middle, &head).expect_err("removed");
    assert_eq!((broken.seq, broken.kind), (3, BreakKind::Removed));
    let broken = verify(&records[1..], &head).expect_err("removed");
    assert_eq!((broken.seq, broken.kind), (1, BreakKind::Removed));
    let broken = verify(&records[..4], &head).expect_err("removed");
    assert_eq!((broken.seq, broken.kind), (5, BreakKind::Removed));
}

#[test]
fn an_inserted_entry_is_named_even_with_a_correct_hash_of_its_own() {
    let records = log(5);
    let head = head_of(&records);
    // A forger renumbers the later entries and rehashes the one put in (not its successors).
    let mut forged = records[..2].to_vec();
    let mut intruder = chain(&head_of(&forged), "2026-01-01T00:00:00.000Z", &[entry("x")]);
    forged.append(&mut intruder);
    for r in &records[2..] {
        forged.push(AuditRecord {
            seq: r.seq + 1,
            ..r.clone()
        });
    }
    // The intruder itself chains well; its successor, renumbered, no longer gives its hash.
    let broken = verify(&forged, &head).expect_err("inserted");
    assert_eq!((broken.seq, broken.kind), (4, BreakKind::Altered));
    // Put in with the hashes the rows around it had, it is named itself.
    let mut crude = records[..2].to_vec();
    let mut intruder = records[2].clone();
    intruder.entry.action = "x".into();
    intruder.hash = intruder.expected_hash();
    intruder.prev_hash = "f".repeat(64);
    crude.push(intruder);
    let broken = verify(&crude, &head).expect_err("inserted");
    assert_eq!(broken.seq, 3);
    // Appended at the end with a good chain, it disagrees with the head.
    let mut appended = records.clone();
    appended.extend(chain(&head, "2026-01-01T00:00:00.000Z", &[entry("x")]));
    let broken = verify(&appended, &head).expect_err("head");
    assert_eq!(broken.kind, BreakKind::Inserted);
}

#[test]
fn a_pruned_prefix_verifies_through_its_checkpoint_and_only_through_it() {
    let mut records = log(6);
    let through = &records[2];
    let checkpoint = checkpoint(through.seq, &through.hash.clone(), 3);
    records.extend(chain(
        &head_of(&records),
        "2026-01-02T00:00:00.000Z",
        &[checkpoint],
    ));
    let head = head_of(&records);
    verify(&records[3..], &head).expect("pruned with a checkpoint");
    let broken = verify(&records[4..], &head).expect_err("one more removed");
    assert_eq!((broken.seq, broken.kind), (4, BreakKind::Removed));
    let mut altered = records[3..].to_vec();
    altered[1].entry.detail = Some("x".into());
    let broken = verify(&altered, &head).expect_err("altered after pruning");
    assert_eq!((broken.seq, broken.kind), (5, BreakKind::Altered));
}

#[test]
fn the_prune_bound_keeps_the_head_and_one_batch() {
    assert_eq!(bound(Some(10), Some(1), 11), Some(10));
    assert_eq!(bound(Some(11), Some(1), 11), Some(10));
    assert_eq!(bound(Some(5000), Some(1), 9000), Some(PRUNE_BATCH));
    assert_eq!(bound(Some(3), Some(4), 9), None);
    assert_eq!(bound(None, Some(4), 9), None);
    assert_eq!(bound(Some(3), None, 0), None);
}
