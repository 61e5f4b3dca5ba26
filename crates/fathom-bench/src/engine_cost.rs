//! The records engine's cost (issue 18): W1–W4 against a `fathom` built from `main` before the
//! engine (the handlers applied rules, tenancy and hidden fields themselves) and this build
//! (they adapt HTTP to `fathom_engine`). Both servers start fresh with the same settings, get
//! the same users and the same seeded rows, and take turns round by round as every workload
//! does, so the only difference is the code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::client::{http_client, register_users};
use crate::fathom_server::{self, FathomServer, PairSettings, seeded_side, start_async};
use crate::loadgen::Load;
use crate::outbox_cost::main_commit;
use crate::results::AgainstMain;

/// The non-admin users who own the rows (W4), as many as the main suite's.
const USERS: usize = 20;

async fn start(pair: &PairSettings, bin: PathBuf) -> anyhow::Result<FathomServer> {
    let options = fathom_server::FathomOptions {
        bin,
        ..pair.fathom.clone()
    };
    start_async(options, fathom_server::SCHEMA.to_owned(), Vec::new()).await
}

pub async fn run(pair: &PairSettings, main_bin: &Path) -> anyhow::Result<AgainstMain> {
    println!(
        "engine cost: W1–W4 against this build (\"Fathom\") and main before the records engine \
         (\"baseline\", {}), fresh servers seeded alike",
        main_bin.display()
    );
    let this = start(pair, pair.fathom.bin.clone())
        .await
        .context("starting this build")?;
    let main = start(pair, main_bin.to_path_buf())
        .await
        .context("starting the before-binary")?;
    let client = http_client()?;
    let this_users = register_users(&client, &this.process.url(""), USERS).await?;
    let main_users = register_users(&client, &main.process.url(""), USERS).await?;
    // User n owns the same rows on both servers.
    let owners_of = |users: &[crate::client::Session]| -> Vec<String> {
        users.iter().map(|u| u.user_id.clone()).collect()
    };
    let (this_side, this_token) =
        seeded_side(&this, &client, pair.records, &owners_of(&this_users)).await?;
    let (main_side, main_token) =
        seeded_side(&main, &client, pair.records, &owners_of(&main_users)).await?;
    let mut bench = pair.bench(this_side, main_side, this_token);
    bench.users = Arc::new(this_users);
    let owners = Arc::new(owners_of(&bench.users));
    let many = Load::Closed {
        concurrency: pair.concurrency,
    };
    let one = Load::Closed { concurrency: 1 };
    // Reads first, on exactly the seeded rows; creates last.
    let mut rows = vec![
        bench.w2_get_fathoms(many, main_token.clone()).await,
        bench.w3_page_fathoms(one, main_token.clone()).await,
        bench.w3_page_fathoms(many, main_token.clone()).await,
        bench.w4_owner_page_fathoms(Arc::new(main_users)).await,
    ];
    for concurrency in [1, 32] {
        rows.push(
            bench
                .w1_create_fathoms(concurrency, main_token.clone(), owners.clone())
                .await,
        );
    }
    Ok(AgainstMain {
        main_commit: main_commit(main_bin),
        rows,
    })
}
