//! Crash safety of checkpoints: a child process trains a tiny model and saves a checkpoint
//! after every step, and is killed with SIGKILL at random moments (while training, while
//! writing files, while swapping folders, while starting up and recovering). After every
//! kill a load finds a complete checkpoint no older than the last one seen, and the chain of
//! resumed lives ends exactly where an uninterrupted run gets, bit for bit.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use nines_runtime::train::{CheckpointSlot, FinetuneConfig, Finetuner, PackedTokens};
use nines_runtime::{DeviceSpec, LanguageModel, LoadOptions};

const TEXTS: [&str; 3] = [
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "No one would have believed in the last years of the nineteenth century that this world was being watched keenly and closely.",
];

/// Where the child writes its run folder.
const CHILD_DIR_VAR: &str = "NINES_KILL_TEST_RUN_DIR";
const KILLS: usize = 60;

fn trainer() -> Finetuner {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama");
    let lm = LanguageModel::load(
        &model,
        LoadOptions {
            device: DeviceSpec::Cpu,
            ..Default::default()
        },
    )
    .unwrap();
    let data = PackedTokens::pack(lm.tokenizer(), &TEXTS, 16).unwrap();
    let cfg = FinetuneConfig {
        seq_len: 16,
        batch_size: 2,
        max_steps: 100_000,
        lr: 1e-3,
        warmup_steps: 3,
        top_layers: Some(1),
        seed: 5,
        ..Default::default()
    };
    Finetuner::new(lm, data, cfg).unwrap()
}

/// Step, trainable weights and optimizer state of a checkpoint folder.
fn contents(ck: &Path) -> (u64, Vec<u8>, Vec<u8>) {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ck.join("state.json")).unwrap()).unwrap();
    (
        state["step"].as_u64().unwrap(),
        std::fs::read(ck.join("trainable.safetensors")).unwrap(),
        std::fs::read(ck.join("optimizer.safetensors")).unwrap(),
    )
}

/// Not a test of its own: the child process of `checkpoints_survive_sigkill`, which sets
/// the run folder in the environment. Resumes from the run folder's checkpoint (recovering
/// an interrupted save), then trains and checkpoints forever, printing each saved step.
#[test]
#[ignore = "child process of checkpoints_survive_sigkill"]
fn checkpoint_writer_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_VAR) else {
        eprintln!("{CHILD_DIR_VAR} is not set: this is the kill test's child process");
        return;
    };
    let dir = PathBuf::from(dir);
    tch::set_num_threads(1);
    let mut ft = trainer();
    if CheckpointSlot::new(dir.join("checkpoint"))
        .recover()
        .unwrap()
        .is_some()
    {
        ft.resume_from(&dir).unwrap();
    }
    println!("resumed {}", ft.steps_done());
    loop {
        ft.train_step().unwrap();
        ft.save_checkpoint(&dir).unwrap();
        println!("saved {}", ft.steps_done());
    }
}

#[test]
fn checkpoints_survive_sigkill() {
    tch::set_num_threads(1);
    let run = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut seen: Vec<(u64, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut last_step = 0u64;
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "checkpoint_writer_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_VAR, run.path())
            .env("OMP_NUM_THREADS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        if kill % 5 == 4 {
            // Now and then during start-up: loading, recovering, resuming.
            std::thread::sleep(Duration::from_millis(rng.random_range(0..150)));
        } else {
            // Otherwise once it saves again, at a random moment of the next steps.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let line = rx
                    .recv_timeout(deadline - std::time::Instant::now())
                    .expect("the child saves a checkpoint within a minute");
                if line.starts_with("saved ") {
                    break;
                }
            }
            std::thread::sleep(Duration::from_micros(rng.random_range(0..40_000)));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();

        let found = CheckpointSlot::new(run.path().join("checkpoint"))
            .recover()
            .unwrap_or_else(|e| panic!("kill {kill}: {e}"));
        let Some(ck) = found else {
            assert_eq!(last_step, 0, "kill {kill}: the checkpoint is gone");
            continue;
        };
        let (step, weights, optimizer) = contents(&ck);
        assert!(
            step >= last_step,
            "kill {kill}: checkpoint went back from step {last_step} to {step}"
        );
        last_step = step;
        seen.push((step, weights, optimizer));
    }
    assert!(
        last_step >= 20,
        "the children made progress: {last_step} steps"
    );

    // The uninterrupted run, checkpointed at the steps the kills left behind.
    let straight_dir = tempfile::tempdir().unwrap();
    let mut straight = trainer();
    seen.dedup_by_key(|s| s.0);
    let mut matched = 0;
    for (step, weights, optimizer) in &seen {
        while (straight.steps_done() as u64) < *step {
            straight.train_step().unwrap();
        }
        let ck = straight.save_checkpoint(straight_dir.path()).unwrap();
        let (s, w, o) = contents(&ck);
        assert_eq!(s, *step);
        assert!(
            w == *weights && o == *optimizer,
            "step {step}: the resumed chain's checkpoint differs from the uninterrupted run's"
        );
        matched += 1;
    }
    eprintln!("{KILLS} kills, {matched} distinct checkpoints matched, last step {last_step}");
}
