//! `nines-web`: the labeling and comparison server on its own (`nines serve` runs the same).

use clap::Parser;

/// Labeling and pairwise comparison by people, on SQLite or PostgreSQL.
#[derive(Parser, Debug)]
#[command(name = "nines-web", version)]
struct Cli {
    #[command(flatten)]
    serve: nines_web::ServeArgs,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = nines_web::serve_blocking(cli.serve) {
        eprintln!("nines-web: {e}");
        std::process::exit(1);
    }
}
