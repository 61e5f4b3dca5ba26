//! Identity storage contract: single-use secrets are single-use under concurrency, and replaying
//! a rotated refresh token ends its whole family.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::sync::Arc;

use fathom_store::{NewUser, RefreshOutcome, Store, StoreErrorKind};

mod support;

async fn store() -> (Store, support::TestStore) {
    let database = support::open("identity").await;
    (database.store.clone(), database)
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password_hash: "$argon2id$placeholder".into(),
        roles: vec!["member".into()],
        tenant: None,
        verified: false,
    }
}

const FAR_FUTURE: &str = "2999-01-01T00:00:00.000Z";

#[tokio::test]
async fn emails_are_unique_case_insensitively() {
    let (store, _dir) = store().await;
    let user = store
        .create_user(new_user("Ada@Example.com"))
        .await
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    let clash = store
        .create_user(new_user("ADA@example.COM"))
        .await
        .unwrap_err();
    assert_eq!(
        clash.kind,
        StoreErrorKind::UniqueViolation {
            fields: vec!["email".into()]
        }
    );
    assert_eq!(
        store
            .user_by_email("ADA@EXAMPLE.COM")
            .await
            .unwrap()
            .unwrap()
            .id,
        user.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_redemptions_of_one_token_succeed_exactly_once() {
    let (store, _dir) = store().await;
    let user = store.create_user(new_user("bo@example.com")).await.unwrap();
    store
        .create_one_time_token(user.id, "reset_password", "h1".into(), FAR_FUTURE.into())
        .await
        .unwrap();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .redeem_one_time_token("reset_password", "h1".into())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if let Some(id) = task.await.unwrap() {
            assert_eq!(id, user.id);
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    // Wrong purpose and expired tokens never redeem.
    store
        .create_one_time_token(
            user.id,
            "verify_email",
            "h2".into(),
            "2000-01-01T00:00:00.000Z".into(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_one_time_token("verify_email", "h2".into())
            .await
            .unwrap(),
        None
    );
    store
        .create_one_time_token(user.id, "verify_email", "h3".into(), FAR_FUTURE.into())
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_one_time_token("reset_password", "h3".into())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_rotate_once_and_a_replay_revokes_the_family() {
    let (store, _dir) = store().await;
    let user = store.create_user(new_user("cy@example.com")).await.unwrap();
    let session = store
        .create_session(user.id, "r0".into(), FAR_FUTURE.into(), None, None)
        .await
        .unwrap();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .rotate_refresh("r0".into(), format!("r1-{n}"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    let mut reused = 0;
    for task in tasks {
        match task.await.unwrap() {
            RefreshOutcome::Rotated { session: s, .. } => {
                assert_eq!(s.id, session.id);
                rotated += 1;
            }
            RefreshOutcome::Reused { session_id, .. } => {
                assert_eq!(session_id, session.id);
                reused += 1;
            }
            RefreshOutcome::Invalid => {}
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation");
    assert!(
        reused >= 1,
        "the replays after the first rotation are reuse"
    );
    // The family is revoked: even the legitimately issued child is now dead.
    assert!(store.sessions(user.id).await.unwrap().is_empty());
    for n in 0..50 {
        assert_eq!(
            store
                .rotate_refresh(format!("r1-{n}"), "x".into())
                .await
                .unwrap(),
            RefreshOutcome::Invalid
        );
    }
}

#[tokio::test]
async fn password_change_revokes_other_sessions_and_lockout_counts_failures() {
    let (store, _dir) = store().await;
    let user = store.create_user(new_user("di@example.com")).await.unwrap();
    let keep = store
        .create_session(user.id, "a".into(), FAR_FUTURE.into(), None, None)
        .await
        .unwrap();
    store
        .create_session(user.id, "b".into(), FAR_FUTURE.into(), None, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .set_password(user.id, "$argon2id$new".into(), Some(keep.id))
            .await
            .unwrap(),
        1
    );
    let live: Vec<_> = store
        .sessions(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, vec![keep.id]);
    assert!(matches!(
        store.rotate_refresh("b".into(), "c".into()).await.unwrap(),
        RefreshOutcome::Invalid
    ));

    for n in 1..=3 {
        let after = store
            .record_login_failure(user.id, 3, FAR_FUTURE.into())
            .await
            .unwrap();
        assert_eq!(after.failed_logins, n);
        assert_eq!(after.locked_until.is_some(), n >= 3);
    }
    store.record_login_success(user.id, None).await.unwrap();
    let reset = store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!((reset.failed_logins, reset.locked_until), (0, None));
}

#[tokio::test]
async fn failures_while_locked_do_not_extend_the_lock_and_an_expired_lock_restarts_the_count() {
    let (store, _dir) = store().await;
    let user = store
        .create_user(new_user("fay@example.com"))
        .await
        .unwrap();
    for _ in 0..2 {
        store
            .record_login_failure(user.id, 2, FAR_FUTURE.into())
            .await
            .unwrap();
    }
    let locked = store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(
        (locked.failed_logins, locked.locked_until.as_deref()),
        (2, Some(FAR_FUTURE))
    );
    // An attacker hammering a locked account changes nothing.
    let later = "2999-06-01T00:00:00.000Z".to_owned();
    let after = store.record_login_failure(user.id, 2, later).await.unwrap();
    assert_eq!(
        (after.failed_logins, after.locked_until.as_deref()),
        (2, Some(FAR_FUTURE))
    );

    // A lock that has run out: the next miss counts from one and does not lock again.
    let other = store
        .create_user(new_user("gus@example.com"))
        .await
        .unwrap();
    let past = "2000-01-01T00:00:00.000Z".to_owned();
    for _ in 0..2 {
        store
            .record_login_failure(other.id, 2, past.clone())
            .await
            .unwrap();
    }
    let after = store
        .record_login_failure(other.id, 2, FAR_FUTURE.into())
        .await
        .unwrap();
    assert_eq!((after.failed_logins, after.locked_until), (1, None));
}
