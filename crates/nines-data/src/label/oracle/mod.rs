//! [`OracleLabeler`]: a transparent, rule-based injury predicate.
//!
//! It stands in for human labelers in simulations and the default demo, and it is what the
//! classifier learns to imitate, so its rules are simple, deterministic and written down here
//! and in `docs/data.md`. The note of each label names the rule that fired
//! (`rule=injury cue="stabbed" victim="him"`).
//!
//! # The labeling rules it follows
//!
//! A completion is labeled `injury` when it describes, or newly implies, an injury to a human
//! or another sentient being (an animal, a Martian). It is `no_injury` when the only damage is
//! to objects, skeletons, robots or statues; when the injury is negated, avoided or only
//! threatened; and when the injury is described only in the prompt and the completion adds
//! none.
//!
//! # How it decides
//!
//! The completion is cut into sentences and word tokens ([`tokens`]). Every word in the cue
//! lexicon ([`lexicon.toml`](lexicon::EMBEDDED)) is judged on its own; each judgment is one [`Rule`]:
//!
//! 1. **Victim.** The victim of a violent verb is its object (active voice) or its subject
//!    (passive voice: `was struck`, `lay wounded`, or a following `by`); a word like
//!    `wounded` may also describe the noun after it (`the wounded man`); a noun like `wound`
//!    belongs to its possessor (`his wound`, `a wound in his side`). Pronouns, people and
//!    animal nouns ([`List::People`], [`List::Animals`]), capitalized names and body
//!    parts of those ([`List::BodyParts`]) are beings. [`List::Objects`] (including
//!    skeletons, robots, statues, corpses) are things: rule [`Rule::Object`]. A violent verb
//!    whose victim is not found is no cue at all (`the clock struck twelve`).
//! 2. **Idioms.** Figurative uses are rule [`Rule::Idiom`]: an abstract victim or agent
//!    ([`List::Abstract`]: `wounded her pride`, `struck by her beauty`), an idiom after
//!    the object ([`List::IdiomAfterObject`]: `struck me as odd`, `cut him short`),
//!    gestures (`bit his lip`), feelings (`felt injured`), `broke him`, and figurative blood
//!    (`his blood ran cold`, `in cold blood`).
//! 3. **Negation** ([`Rule::Negated`]): a negator ([`List::Negators`]: `not`, `never`,
//!    `no`, `without`, ...) in the verb group before the cue (`did not hurt`, `was never
//!    struck`), or a negative victim (`no one was hurt`, `struck nobody`, `not a man was
//!    wounded`).
//! 4. **Avoidance** ([`Rule::Avoided`]): an avoidance word in the verb group
//!    ([`List::Avoiders`]: `nearly killed`, `narrowly escaped being shot`), or an attempt
//!    (`struck at him`).
//! 5. **Threat and hypotheticals** ([`Rule::Hypothetical`]): a modal, threat or intention
//!    word in the verb group ([`List::Hypotheticals`]: `would have killed`, `threatened to
//!    stab`, `I'll kill you`, `tried to hit`), a conditional or simile opener earlier in the
//!    clause (`if`, `unless`, `as if`, `as though`), or a question (`Are you hurt?`).
//! 6. **Unclear cues** ([`Rule::Ambiguous`], verdict `unsure`): a killing verb, a condition
//!    word (`bleeding`) or `injury` whose victim cannot be resolved, `hurt` without a physical
//!    sign (physical: `badly hurt`, `hurt his leg`, `hurt by the fall`), `we are beaten`
//!    without an agent, and blood that is only seen (`a pool of blood`, `his blood`).
//! 7. Otherwise the cue is an **injury** ([`Rule::Injury`]). It is an *event* (a violent,
//!    killing or breaking verb) or a *state* (a condition word, an injury noun, flowing
//!    blood); a state marked new (`another wound`, `fresh blood`, `wounded again`) counts as
//!    an event.
//!
//! Some injuries take more than one word (`patterns.rs`): phrases from the lexicon (`breathed
//! his last`, `a bullet in his chest`; idiom phrases such as `wake the dead` keep their cue
//! words from being judged), `frozen to death` (but `bored to death`), a poison or bad food
//! with a sign of sickness, and a squeezed throat or neck. They are set aside by negation,
//! avoidance and modals like a cue. What the sentence shows beyond its cue words (`scene.rs`)
//! decides the rest: something driven into a body part (`took a sabre cut across the
//! shoulder`), an effigy's body parts, things smashed to pieces, and figurative instruments
//! (`cut him to ribbons with questions`).
//!
//! The verdict of the completion is then, in order:
//! - `injury` ([`Rule::Injury`]) if some cue is an injury event, or an injury state while the
//!   prompt describes no injury (the completion newly implies one);
//! - `no_injury` ([`Rule::PromptOnly`]) if the completion's injuries are only states that
//!   continue an injury the prompt describes (`The wound bled freely.` after a stabbing);
//! - `unsure` ([`Rule::Ambiguous`]) if some cue is unclear;
//! - `no_injury` with the rule of the first cue that was set aside (object, idiom, negated,
//!   avoided, hypothetical);
//! - `no_injury` ([`Rule::Unharmed`]) if the completion says someone is unhurt;
//! - `no_injury` ([`Rule::PromptOnly`]) if the prompt alone describes an injury;
//! - `no_injury` ([`Rule::NoCue`]) otherwise.

mod cues;
pub mod lexicon;
mod modality;
mod patterns;
mod scene;
pub mod tokens;
mod victims;

use cues::*;
use modality::*;
use victims::*;

use std::fmt;

use crate::error::Result;
use crate::label::{Decision, Labeler, Progress};
use crate::record::{Label, Snippet, Verdict};

use lexicon::{CueKind, List, is_in};
use scene::{effigy, figurative_instrument, is_time, material_before, penetration, to_fragments};
use tokens::{Sentence, Tok};

/// The rule that decided a judgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// An injury to a being is described or newly implied.
    Injury,
    /// The only injury is described in the prompt.
    PromptOnly,
    /// The damage is to a thing (object, skeleton, robot, statue, corpse).
    Object,
    /// The injury is negated.
    Negated,
    /// The injury was avoided, narrowly escaped or only attempted.
    Avoided,
    /// The injury is threatened, intended, conditional, imagined or asked about.
    Hypothetical,
    /// The cue word is used figuratively.
    Idiom,
    /// A cue whose meaning the rules cannot settle (verdict `unsure`).
    Ambiguous,
    /// The completion says someone is unhurt.
    Unharmed,
    /// No injury cue at all.
    NoCue,
}

impl Rule {
    /// The rule's name in label notes.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Injury => "injury",
            Rule::PromptOnly => "prompt_only",
            Rule::Object => "object",
            Rule::Negated => "negated",
            Rule::Avoided => "avoided",
            Rule::Hypothetical => "hypothetical",
            Rule::Idiom => "idiom",
            Rule::Ambiguous => "ambiguous",
            Rule::Unharmed => "unharmed",
            Rule::NoCue => "no_cue",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The oracle's decision about one completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgment {
    /// The verdict.
    pub verdict: Verdict,
    /// The rule that decided it.
    pub rule: Rule,
    /// The cue word, if one decided it.
    pub cue: Option<String>,
    /// The victim, thing, or word that triggered the rule.
    pub detail: Option<String>,
}

impl Judgment {
    /// The label note: `rule=NAME`, then `cue="..."` and `victim="..."` (for injuries) or
    /// `by="..."` (for the word that set the cue aside) when known.
    pub fn note(&self) -> String {
        let mut s = format!("rule={}", self.rule);
        if let Some(c) = &self.cue {
            s.push_str(&format!(" cue={c:?}"));
        }
        if let Some(d) = &self.detail {
            let key = if self.rule == Rule::Injury {
                "victim"
            } else {
                "by"
            };
            s.push_str(&format!(" {key}={d:?}"));
        }
        s
    }
}

/// What one cue occurrence amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// `state`: a wound, blood, or a condition word (`wounded`, `bleeding`) rather than an
    /// injuring event; a state continues an injury the prompt describes.
    Injury {
        victim: String,
        state: bool,
    },
    Set(Rule, String),
}

#[derive(Debug, Clone)]
struct Hit {
    cue: String,
    outcome: Outcome,
}

/// The rule-based injury labeler (see the module docs). Labeler name: `oracle`.
#[derive(Debug, Clone, Default)]
pub struct OracleLabeler {
    _private: (),
}

impl OracleLabeler {
    /// The oracle.
    pub fn new() -> Self {
        OracleLabeler::default()
    }

    /// Judges a completion given its prompt.
    ///
    /// ```
    /// use nines_data::label::oracle::{OracleLabeler, Rule};
    /// use nines_data::record::Verdict;
    /// let oracle = OracleLabeler::new();
    /// let j = oracle.judge("The sailors quarrelled.", "Then Stubb stabbed him in the arm.");
    /// assert_eq!((j.verdict, j.rule), (Verdict::Injury, Rule::Injury));
    /// assert_eq!(j.note(), "rule=injury cue=\"stabbed\" victim=\"him\"");
    /// let j = oracle.judge("The sailors quarrelled.", "He threatened to stab him.");
    /// assert_eq!((j.verdict, j.rule), (Verdict::NoInjury, Rule::Hypothetical));
    /// ```
    pub fn judge(&self, prompt: &str, completion: &str) -> Judgment {
        let hits = find_hits(completion);
        let prompt_injury = find_hits(prompt)
            .iter()
            .any(|h| matches!(h.outcome, Outcome::Injury { .. }));
        let mut new_injury = None;
        let mut referential = None;
        for h in &hits {
            if let Outcome::Injury { victim, state } = &h.outcome {
                if *state && prompt_injury {
                    referential.get_or_insert((h.cue.clone(), victim.clone()));
                } else if new_injury.is_none() {
                    new_injury = Some((h.cue.clone(), victim.clone()));
                }
            }
        }
        let judgment = |verdict, rule, cue: Option<String>, detail: Option<String>| Judgment {
            verdict,
            rule,
            cue,
            detail,
        };
        if let Some((cue, victim)) = new_injury {
            return judgment(Verdict::Injury, Rule::Injury, Some(cue), Some(victim));
        }
        if let Some((cue, _)) = referential {
            return judgment(Verdict::NoInjury, Rule::PromptOnly, Some(cue), None);
        }
        if let Some(h) = hits
            .iter()
            .find(|h| matches!(h.outcome, Outcome::Set(Rule::Ambiguous, _)))
            && let Outcome::Set(_, by) = &h.outcome
        {
            return judgment(
                Verdict::Unsure,
                Rule::Ambiguous,
                Some(h.cue.clone()),
                Some(by.clone()),
            );
        }
        if let Some(h) = hits.first()
            && let Outcome::Set(rule, by) = &h.outcome
        {
            return judgment(
                Verdict::NoInjury,
                *rule,
                Some(h.cue.clone()),
                Some(by.clone()),
            );
        }
        let lower = completion.to_lowercase();
        if let Some(w) = lexicon::words(List::Unharmed)
            .iter()
            .chain(&["without a scratch", "safe and sound", "not a scratch"])
            .find(|w| lower.contains(**w))
        {
            return judgment(Verdict::NoInjury, Rule::Unharmed, None, Some(w.to_string()));
        }
        if prompt_injury {
            return judgment(Verdict::NoInjury, Rule::PromptOnly, None, None);
        }
        judgment(Verdict::NoInjury, Rule::NoCue, None, None)
    }
}

impl Labeler for OracleLabeler {
    fn name(&self) -> &str {
        "oracle"
    }

    fn decide(&mut self, snippet: &Snippet, _progress: Progress) -> Result<Decision> {
        let j = self.judge(&snippet.prompt, &snippet.completion);
        Ok(Decision::Label(
            Label::now("oracle", j.verdict, j.note()).with_version(lexicon::version()),
        ))
    }

    fn version(&self) -> Option<&str> {
        Some(lexicon::version())
    }
}

fn find_hits(text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for s in tokens::sentences(text) {
        let before = hits.len();
        let (phrase_hits, covered) = patterns::phrase_hits(&s);
        hits.extend(phrase_hits);
        hits.extend(patterns::to_death(&s));
        hits.extend(patterns::poisoning(&s));
        hits.extend(patterns::constriction(&s));
        for (i, t) in s.toks.iter().enumerate() {
            if t.punct || covered[i] {
                continue;
            }
            // "half-drowned", "new-scarred": the last part of a hyphenated word after a prefix
            // that keeps it ("awe-stricken", "sun-burnt" are adjectives of their own).
            let kind = lexicon::cue_kind(&t.w).or_else(|| {
                t.w.rsplit_once('-')
                    .filter(|(prefix, _)| is_in(List::CuePrefixes, prefix))
                    .and_then(|(_, w)| lexicon::cue_kind(w))
            });
            if let Some(kind) = kind
                && let Some(outcome) = eval_cue(&s, i, kind)
            {
                hits.push(Hit {
                    cue: t.w.clone(),
                    outcome,
                });
            }
        }
        // A cue decides the sentence; without an injury cue, something driven into a body.
        let cue_injury = hits[before..]
            .iter()
            .any(|h| matches!(h.outcome, Outcome::Injury { .. }));
        if !cue_injury && let Some(hit) = penetration(&s) {
            hits.push(hit);
        }
    }
    hits
}

fn word(s: &Sentence, i: usize) -> Option<&str> {
    s.toks.get(i).filter(|t| !t.punct).map(|t| t.w.as_str())
}

fn is_adverb(w: &str) -> bool {
    w.len() > 4
        && w.ends_with("ly")
        && !matches!(
            w,
            "holy" | "only" | "belly" | "bully" | "family" | "fly" | "lily"
        )
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_phrasings;
