//! The `fathom` command. Everything lives in the library; this only parses and reports.

use clap::Parser;

/// mimalloc instead of glibc malloc: a read allocates a few hundred small blocks, and glibc spent
/// 15-18 % of the server's CPU on them (docs/BENCHMARKS.md, "The read fast path, part two").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = fathom::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fathom::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
