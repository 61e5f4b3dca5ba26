//! The cost of recording query shapes (the architect, issue 17) on W2 (get by id) and W3 (the
//! filtered, sorted page): a server of this build recording them (the default) against one with
//! `architect.record_shapes = false`, started and seeded alike and taking turns round by round
//! as every workload does.

use anyhow::Context;

use crate::client::http_client;
use crate::fathom_server::{self, PairSettings, owners, seeded_side, start_async};
use crate::loadgen::Load;
use crate::results::ShapesCost;

pub async fn run(pair: &PairSettings) -> anyhow::Result<ShapesCost> {
    println!(
        "shape recording: W2 and W3 on a server recording query shapes against one with \
         architect.record_shapes = false, fresh servers of this build"
    );
    let client = http_client()?;
    let owners = owners();
    let off = start_async(
        pair.fathom.clone(),
        fathom_server::SCHEMA.to_owned(),
        vec![(
            "FATHOM_ARCHITECT__RECORD_SHAPES".to_owned(),
            "false".to_owned(),
        )],
    )
    .await
    .context("starting the server without shape recording")?;
    let on = start_async(
        pair.fathom.clone(),
        fathom_server::SCHEMA.to_owned(),
        Vec::new(),
    )
    .await
    .context("starting the server recording shapes")?;
    let (off_side, off_token) = seeded_side(&off, &client, pair.records, &owners).await?;
    let (on_side, on_token) = seeded_side(&on, &client, pair.records, &owners).await?;
    let bench = pair.bench(on_side, off_side, on_token);
    let many = Load::Closed {
        concurrency: pair.concurrency,
    };
    let rows = vec![
        bench.w2_get_fathoms(many, off_token.clone()).await,
        bench
            .w3_page_fathoms(Load::Closed { concurrency: 1 }, off_token.clone())
            .await,
        bench.w3_page_fathoms(many, off_token).await,
    ];
    Ok(ShapesCost { rows })
}
