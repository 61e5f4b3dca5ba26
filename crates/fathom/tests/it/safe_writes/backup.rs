//! `fathom backup FILE` under write load: the copy passes its integrity check and holds every
//! write acknowledged before the backup began; `fathom restore` refuses a served database
//! without `--force`, checks the file first, and a server started on the restored database
//! serves those records. SQLite only: on PostgreSQL the commands explain pg_dump and base
//! backups (checked below too).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::conditional::{SCHEMA, create};
use crate::helpers::{fathom_bin, json_with_status, on_postgres, spawn_app};

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_holds_every_write_acknowledged_before_it() {
    let app = Arc::new(spawn_app(SCHEMA).await);
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("copy.db");
    if on_postgres() {
        let output = app.cli(&["backup", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains("pg_dump"), "{}", text(&output));
        return;
    }
    // Writers create notes until told to stop; each records what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (app, stop, acknowledged) = (app.clone(), stop.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let response = app
                    .post_json("/api/v1/notes", &json!({"body": format!("w{w} n{n}")}))
                    .await;
                let created = json_with_status(response, 201).await;
                acknowledged
                    .lock()
                    .unwrap()
                    .push(created["data"]["id"].as_str().unwrap().to_owned());
                n += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    assert!(!before.is_empty());
    let target = file.to_str().unwrap().to_owned();
    let output = {
        let app = app.clone();
        tokio::task::spawn_blocking(move || app.cli(&["backup", &target]))
            .await
            .unwrap()
    };
    let during = acknowledged.lock().unwrap().len();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(
        report.contains("integrity ok") && report.contains("bytes in"),
        "{report}"
    );
    assert!(
        during > before.len(),
        "writes went on while the backup ran: {report}"
    );

    // Restoring under the running server is refused, and a broken file is refused first.
    let refused = app.cli(&["restore", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("serving"), "{}", text(&refused));
    let junk = backups.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let broken = app.cli(&["restore", junk.to_str().unwrap(), "--force"]);
    assert!(!broken.status.success());
    assert!(
        text(&broken).contains("cannot be restored"),
        "{}",
        text(&broken)
    );

    // A server on a copy of the backup serves every note acknowledged before it began.
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("every writer has finished")
    };
    let schema = fathom_schema::parse_schema("t", SCHEMA).unwrap();
    app.stop().await;
    let restored_dir = tempfile::tempdir().unwrap();
    let restored_db = restored_dir.path().join("fathom.db");
    let output = std::process::Command::new(fathom_bin())
        .args(["restore", file.to_str().unwrap(), "--data-dir"])
        .arg(restored_dir.path())
        .current_dir(restored_dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("integrity ok"), "{}", text(&output));
    assert!(restored_db.exists());
    let config = crate::helpers::test_config(restored_dir.path());
    let store = fathom_store::Store::open_sqlite(config.store_options("fathom.db"))
        .await
        .unwrap();
    let notes = schema.collection("notes").unwrap().clone();
    let stored: std::collections::HashSet<String> = store
        .list(
            &fathom_store::Scope::AllTenants,
            notes,
            fathom_store::ListQuery::first(1_000_000),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.hyphenated().to_string())
        .collect();
    let missing: Vec<&String> = before.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but missing: {missing:?}"
    );
}

/// A serving lock held by another process refuses a restore; `--force` goes past it and the
/// restored database is what the next server serves: the backup's records, not later ones.
#[tokio::test]
async fn restore_force_replaces_a_database_whose_lock_is_held() {
    if on_postgres() {
        return;
    }
    let mut app = spawn_app(SCHEMA).await;
    let (kept, _) = create(&app, "notes", json!({"body": "in the backup"})).await;
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("copy.db");
    let made = app.cli(&["backup", file.to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made));
    let (later, _) = create(&app, "notes", json!({"body": "after the backup"})).await;
    app.halt().await;

    // Another process (a server the operator knows is gone, or a tool) holds the lock.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(app.data_dir.path().join("fathom.db.serving"))
        .unwrap();
    lock.try_lock().expect("the test takes the serving lock");
    let refused = app.cli(&["restore", file.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("serving"), "{}", text(&refused));
    let forced = app.cli(&["restore", file.to_str().unwrap(), "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(text(&forced).contains("integrity ok"), "{}", text(&forced));
    drop(lock);

    let app = app.restart(SCHEMA).await;
    assert_eq!(
        app.get(&format!("/api/v1/notes/{kept}")).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/notes/{later}")).await.status(),
        404,
        "the restored database is the backup's"
    );
}
