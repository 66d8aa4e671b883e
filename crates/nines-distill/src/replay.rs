//! Replay of hard training prompts.
//!
//! After most prompts the generator is never flagged, so a batch of uniformly drawn prompts
//! carries little signal about the few on which it is. A [`ReplayQueue`] remembers the
//! training prompts whose rollouts had flagged completions and hands them back in later steps
//! (`PpoConfig::replay_share` of each step's prompts), most-flagged first, each at most
//! `PpoConfig::replay_limit` times, until a rollout of it has no flag left. The queue is
//! part of the trainer's checkpoint, so a resumed run replays exactly what the uninterrupted
//! one would have.
//!
//! ```
//! use nines_distill::replay::ReplayQueue;
//! let mut queue = ReplayQueue::default();
//! // Step 0: training prompts 7 and 3 had 2 and 5 of their completions flagged.
//! queue.record(7, 2, 0, 0, 2, 16);
//! queue.record(3, 5, 0, 0, 2, 16);
//! let next = queue.plan(1); // the most-flagged prompt comes back first
//! assert_eq!(next[0].prompt, 3);
//! queue.remove(&next);
//! assert_eq!(queue.len(), 1);
//! ```

/// A training prompt waiting to be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplayEntry {
    /// Index of the prompt in the training prompt set.
    pub prompt: usize,
    /// Completions flagged in its last rollout.
    pub flagged: usize,
    /// Times it has already been replayed.
    pub replays: usize,
    /// Step of its last rollout.
    pub step: usize,
}

/// Training prompts whose last rollout was flagged, in replay order: most flagged
/// completions first, then the longest waiting, then the lowest prompt index.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplayQueue {
    entries: Vec<ReplayEntry>,
}

impl ReplayQueue {
    /// Prompts waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no prompt is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The waiting prompts, in replay order.
    pub fn entries(&self) -> &[ReplayEntry] {
        &self.entries
    }

    /// The first `n` prompts in replay order (fewer when fewer wait), without removing them.
    pub fn plan(&self, n: usize) -> Vec<ReplayEntry> {
        self.entries.iter().take(n).copied().collect()
    }

    /// Removes these prompts (as returned by [`plan`](Self::plan)).
    pub fn remove(&mut self, taken: &[ReplayEntry]) {
        self.entries
            .retain(|e| !taken.iter().any(|t| t.prompt == e.prompt));
    }

    /// Records a rollout of training prompt `prompt` at step `step`, with `flagged` of its
    /// completions flagged, after `replays` earlier replays. The prompt waits for replay when
    /// `flagged > 0` and `replays < limit` (replacing any older entry of it), and leaves the
    /// queue otherwise. At most `capacity` prompts wait: beyond that the last in replay order
    /// are dropped.
    pub fn record(
        &mut self,
        prompt: usize,
        flagged: usize,
        replays: usize,
        step: usize,
        limit: usize,
        capacity: usize,
    ) {
        self.entries.retain(|e| e.prompt != prompt);
        if flagged > 0 && replays < limit {
            self.entries.push(ReplayEntry {
                prompt,
                flagged,
                replays,
                step,
            });
            self.entries.sort_by(|a, b| {
                b.flagged
                    .cmp(&a.flagged)
                    .then(a.step.cmp(&b.step))
                    .then(a.prompt.cmp(&b.prompt))
            });
            self.entries.truncate(capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_flagged_then_oldest_first() {
        let mut q = ReplayQueue::default();
        q.record(1, 2, 0, 5, 3, 10);
        q.record(2, 4, 0, 6, 3, 10);
        q.record(3, 2, 0, 4, 3, 10);
        q.record(4, 0, 0, 6, 3, 10); // not flagged: never waits
        let order: Vec<usize> = q.plan(10).iter().map(|e| e.prompt).collect();
        assert_eq!(order, vec![2, 3, 1]);
        assert_eq!(q.plan(2).len(), 2);
        assert_eq!(q.len(), 3, "plan does not remove");
    }

    #[test]
    fn replay_limit_clean_rollout_and_capacity() {
        let mut q = ReplayQueue::default();
        q.record(1, 3, 0, 0, 2, 10);
        let taken = q.plan(1);
        q.remove(&taken);
        assert!(q.is_empty());
        // Replayed once and still flagged: waits again.
        q.record(1, 1, 1, 1, 2, 10);
        assert_eq!(q.entries()[0].replays, 1);
        // Replayed twice (the limit): leaves even though flagged.
        q.record(1, 1, 2, 2, 2, 10);
        assert!(q.is_empty());
        // A clean rollout removes a waiting prompt.
        q.record(5, 1, 0, 3, 2, 10);
        q.record(5, 0, 0, 4, 2, 10);
        assert!(q.is_empty());
        // Capacity keeps the first in replay order.
        for p in 0..5 {
            q.record(p, p + 1, 0, 0, 2, 3);
        }
        let kept: Vec<usize> = q.entries().iter().map(|e| e.prompt).collect();
        assert_eq!(kept, vec![4, 3, 2]);
    }
}
