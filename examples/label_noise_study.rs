//! The label-noise study's table and figure from the trained settings under a folder
//! (`scripts/label_noise_study.sh` trains them and then runs this).
//!
//! ```text
//! cargo run --release --example label_noise_study -- --runs runs/noise --svg docs/img/label_noise.svg
//! ```

use clap::Parser;

/// The label-noise study's table (printed, Markdown) and figure (SVG).
#[derive(Parser)]
struct Args {
    /// Folder of trained settings (`KIND-LEVEL-SEED/test.json`).
    #[arg(long, default_value = "runs/noise")]
    runs: std::path::PathBuf,
    /// Where to write the figure.
    #[arg(long, default_value = "docs/img/label_noise.svg")]
    svg: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let results = nines::label_noise::read_results(&args.runs)?;
    anyhow::ensure!(
        !results.is_empty(),
        "no finished settings under {}",
        args.runs.display()
    );
    println!("{}", nines::label_noise::to_markdown(&results));
    std::fs::write(&args.svg, nines::label_noise::figure(&results)?)?;
    println!("figure: {}", args.svg.display());
    Ok(())
}
