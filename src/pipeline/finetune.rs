//! The generator the later stages use: the configured model, or that model fine-tuned on the
//! corpus's training chapters (trained once and cached under `runs/cache/`, keyed by the
//! model file, the texts and the settings; see docs/finetune.md).

use std::path::{Path, PathBuf};

use nines_data::corpus::Corpus;
use nines_data::split::{SplitConfig, region_texts};
use nines_runtime::LoadOptions;
use nines_runtime::train::{FinetuneConfig, FinetuneReport, REPORT_FILE, finetune_cached};

use super::outputs::FinetuneOutput;
use super::{Pipeline, PipelineError, write_json};

/// Where the stage records which generator to use.
const RECORD: &str = "finetune.json";

/// The fine-tuning settings: the top 6 blocks of the generator trained on 256-token
/// sequences of the training chapters, batch 4, learning rate 3e-4 with 10 warm-up steps and
/// a cosine decay over `steps`.
fn finetune_config(p: &Pipeline) -> FinetuneConfig {
    FinetuneConfig {
        seq_len: 256,
        batch_size: 4,
        max_steps: p.config.generator.finetune_steps,
        lr: 3e-4,
        warmup_steps: 10.min(p.config.generator.finetune_steps / 2),
        top_layers: Some(6),
        seed: p.config.seed,
        ..Default::default()
    }
}

/// Fine-tunes the generator on fiction (or passes the configured model through when
/// `generator.finetune_steps` is 0) and records the model the later stages load.
pub(super) fn finetune(p: &Pipeline) -> Result<FinetuneOutput, PipelineError> {
    let g = &p.config.generator;
    let summary = if g.finetune_steps == 0 {
        FinetuneOutput::AsIs {
            model: g.model.clone(),
        }
    } else {
        let corpus = Corpus::load(&p.config.data.corpus)?;
        let [train, valid, _] = region_texts(&corpus, &SplitConfig::default());
        let out = finetune_cached(
            &g.model,
            LoadOptions::default(),
            &train,
            &valid,
            &finetune_config(p),
            Path::new(&g.finetune_cache),
            true,
        )?;
        let report: FinetuneReport = super::read_json(&out.join(REPORT_FILE))?;
        FinetuneOutput::FineTuned {
            model: out,
            steps: report.steps,
            validation_perplexity_before: report.initial_ppl,
            validation_perplexity_after: report.final_ppl,
            minutes: report.elapsed_s / 60.0,
        }
    };
    write_json(&p.run.path(RECORD), &summary)?;
    Ok(summary)
}

/// The generator of the completions, filter, distill and judge stages.
pub(super) fn generator_path(p: &Pipeline) -> PathBuf {
    super::read_json::<FinetuneOutput>(&p.run.path(RECORD))
        .map(|o| o.model().clone())
        .unwrap_or_else(|_| p.config.generator.model.clone())
}
