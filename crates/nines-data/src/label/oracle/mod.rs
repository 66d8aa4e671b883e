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
//!    animal nouns ([`List::People`](lexicon::List::People), [`List::Animals`](lexicon::List::Animals)), capitalized names and body
//!    parts of those ([`List::BodyParts`](lexicon::List::BodyParts)) are beings. [`List::Objects`](lexicon::List::Objects) (including
//!    skeletons, robots, statues, corpses) are things: rule [`Rule::Object`]. A violent verb
//!    whose victim is not found is no cue at all (`the clock struck twelve`).
//! 2. **Idioms.** Figurative uses are rule [`Rule::Idiom`]: an abstract victim or agent
//!    ([`List::Abstract`](lexicon::List::Abstract): `wounded her pride`, `struck by her beauty`), an idiom after
//!    the object ([`List::IdiomAfterObject`](lexicon::List::IdiomAfterObject): `struck me as odd`, `cut him short`),
//!    gestures (`bit his lip`), feelings (`felt injured`), `broke him`, and figurative blood
//!    (`his blood ran cold`, `in cold blood`).
//! 3. **Negation** ([`Rule::Negated`]): a negator ([`List::Negators`](lexicon::List::Negators): `not`, `never`,
//!    `no`, `without`, ...) in the verb group before the cue (`did not hurt`, `was never
//!    struck`), or a negative victim (`no one was hurt`, `struck nobody`, `not a man was
//!    wounded`).
//! 4. **Avoidance** ([`Rule::Avoided`]): an avoidance word in the verb group
//!    ([`List::Avoiders`](lexicon::List::Avoiders): `nearly killed`, `narrowly escaped being shot`), or an attempt
//!    (`struck at him`).
//! 5. **Threat and hypotheticals** ([`Rule::Hypothetical`]): a modal, threat or intention
//!    word in the verb group ([`List::Hypotheticals`](lexicon::List::Hypotheticals): `would have killed`, `threatened to
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

pub mod lexicon;
mod patterns;
mod scene;
pub mod tokens;

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

/// Victim classes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Victim {
    Being(String),
    Part(String),
    Thing(String),
    Abstract(String),
    Negative(String),
    Unknown,
}

fn classify(t: &Tok) -> Option<Victim> {
    let w = t.w.as_str();
    if is_in(List::NegativePronouns, w) {
        return Some(Victim::Negative(w.into()));
    }
    if is_in(List::Objects, w) {
        return Some(Victim::Thing(w.into()));
    }
    // "cabin-boy", "drummer-boy": a hyphenated person is a person.
    let last = w.rsplit_once('-').map_or(w, |(_, l)| l);
    if is_in(List::People, w) || is_in(List::Animals, w) || is_in(List::People, last) {
        return Some(Victim::Being(w.into()));
    }
    if is_in(List::BodyParts, w) {
        return Some(Victim::Part(w.into()));
    }
    if is_in(List::Abstract, w) {
        return Some(Victim::Abstract(w.into()));
    }
    if is_person(w) {
        return Some(Victim::Being(w.into()));
    }
    None
}

/// A plural of a listed person or animal (`smugglers`, `wolves`), or a person noun made with a
/// suffix (`fireman`, `ploughboy`, `housemaid`).
fn is_person(w: &str) -> bool {
    let being = |x: &str| is_in(List::People, x) || is_in(List::Animals, x);
    let plural = w
        .strip_suffix("es")
        .is_some_and(|x| x.len() > 2 && being(x))
        || w.strip_suffix('s').is_some_and(|x| x.len() > 2 && being(x));
    plural
        || (!lexicon::is_listed(w)
            && w.chars().all(|c| c.is_alphabetic())
            && lexicon::words(List::PersonSuffixes)
                .iter()
                .any(|suffix| w.len() >= suffix.len() + 3 && w.ends_with(suffix)))
}

fn is_known_word(w: &str) -> bool {
    lexicon::is_listed(w)
        || is_in(List::NumberWords, w)
        || is_in(List::NotNames, w)
        || matches!(
            w,
            "it" | "and" | "but" | "or" | "then" | "when" | "while" | "there" | "here" | "which"
        )
}

/// A capitalized word that is no known word: a name.
fn is_name(t: &Tok) -> bool {
    t.cap && !t.punct && t.w != "i" && !is_known_word(&t.w) && classify(t).is_none()
}

/// [`is_name`] at index `j`, and not after a determiner or number (`the Pequod`, `two Miles`
/// are capitalized nouns).
fn is_name_at(s: &Sentence, j: usize) -> bool {
    is_name(&s.toks[j])
        && !(j > 0
            && (matches!(
                s.toks[j - 1].w.as_str(),
                "the" | "a" | "an" | "this" | "that"
            ) || is_in(List::NumberWords, s.toks[j - 1].w.as_str())))
}

/// Resolves the owner of a body part at index `part` (possessor to its left, or `of X` to its
/// right).
fn part_owner(s: &Sentence, part: usize) -> Victim {
    // "the robot's arm", "his arm"
    let mut j = part;
    for _ in 0..3 {
        if j == 0 {
            break;
        }
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        if t.poss {
            return match classify(t) {
                Some(v @ Victim::Thing(_)) => v,
                _ => Victim::Being(t.w.clone()),
            };
        }
        if is_in(List::Possessives, &t.w) {
            return Victim::Being(t.w.clone());
        }
        if t.w == "its" {
            // "knocked the dummy flat, breaking its arm": the nearest thing or being before;
            // `it` nearer than any ("seized it and bit its head off") is a thing; with none
            // before, the first after ("shot its legs from under it, and the machine fell").
            let owner = |x: &Tok| match classify(x) {
                Some(v @ Victim::Thing(_)) => Some(v),
                Some(Victim::Being(b)) => Some(Victim::Being(b)),
                _ if x.w == "it" => Some(Victim::Thing("it".into())),
                _ => None,
            };
            return s.toks[..j]
                .iter()
                .rev()
                .find_map(owner)
                .or_else(|| s.toks[part + 1..].iter().find_map(owner))
                .unwrap_or(Victim::Unknown);
        }
        if let Some(Victim::Thing(w)) = classify(t) {
            // "the table leg"
            return Victim::Thing(w);
        }
    }
    // "the arm of the statue"
    if word(s, part + 1) == Some("of") {
        for k in part + 2..(part + 5).min(s.toks.len()) {
            let t = &s.toks[k];
            if t.punct {
                break;
            }
            match classify(t) {
                Some(v @ Victim::Thing(_)) => return v,
                Some(Victim::Being(w)) => return Victim::Being(w),
                _ => {}
            }
            if is_name(t) || is_in(List::ObjectPronouns, &t.w) {
                return Victim::Being(t.w.clone());
            }
        }
    }
    Victim::Unknown
}

fn resolve_part(s: &Sentence, idx: usize, part: &str) -> Victim {
    match part_owner(s, idx) {
        Victim::Thing(w) => Victim::Thing(w),
        Victim::Being(owner) => Victim::Part(format!("{owner} {part}")),
        _ => Victim::Part(part.to_string()),
    }
}

/// The victim to the right of index `i` (the object, or the noun an adjective describes),
/// with its token index.
fn right_victim(s: &Sentence, i: usize) -> (Victim, Option<usize>) {
    let mut after_possessive = false;
    let mut j = i + 1;
    let mut steps = 0;
    while j < s.toks.len() && steps < 5 {
        steps += 1;
        let t = &s.toks[j];
        if t.punct
            || matches!(
                t.w.as_str(),
                "and" | "but" | "or" | "then" | "while" | "when"
            )
        {
            break;
        }
        let w = t.w.as_str();
        if after_possessive && is_in(List::BodyParts, w) {
            return (resolve_part(s, j, w), Some(j));
        }
        let particle = j == i + 1
            && matches!(w, "off" | "out" | "up" | "open" | "away")
            && matches!(
                s.toks[i].w.as_str(),
                "cut" | "tore" | "torn" | "tear" | "struck" | "knocked" | "ripped"
            );
        if is_in(List::Prepositions, w) && !after_possessive && !particle {
            break;
        }
        if particle {
            j += 1;
            continue;
        }
        if w == "her" {
            // "her" before a noun is a possessive, also before a noun no list knows ("cut her
            // hair", "burnt her letters"); before a particle, an adverb or a cue it is the
            // object ("struck her down", "stabbed her twice", "shot her dead").
            let next_is_noun = s.toks.get(j + 1).is_some_and(|n| {
                let w = n.w.as_str();
                !n.punct
                    && (classify(n).is_some()
                        || is_in(List::Skippable, w)
                        || !(n.cap
                            || is_known_word(w)
                            || is_adverb(w)
                            || lexicon::cue_kind(w).is_some()
                            || matches!(
                                w,
                                "twice"
                                    | "thrice"
                                    | "hard"
                                    | "full"
                                    | "square"
                                    | "so"
                                    | "too"
                                    | "as"
                                    | "where"
                                    | "till"
                                    | "until"
                                    | "unconscious"
                                    | "senseless"
                                    | "insensible"
                                    | "flat"
                            )))
            });
            if next_is_noun {
                after_possessive = true;
                j += 1;
                continue;
            }
            return (Victim::Being("her".into()), Some(j));
        }
        if is_in(List::NegativePronouns, w) {
            return (Victim::Negative(w.into()), Some(j));
        }
        if is_in(List::ObjectPronouns, w) {
            return (Victim::Being(w.into()), Some(j));
        }
        if is_in(List::Possessives, w) || w == "its" {
            after_possessive = true;
            j += 1;
            continue;
        }
        if t.poss {
            // "the whale's flank": look on for the thing owned; fall back to the owner.
            let owner = match classify(t) {
                Some(v @ Victim::Thing(_)) => v,
                Some(Victim::Being(b)) => Victim::Being(b),
                _ if is_name(t) => Victim::Being(w.into()),
                _ => Victim::Unknown,
            };
            let (owned, k) = right_victim(s, j);
            return match owned {
                Victim::Part(p) => match owner {
                    Victim::Thing(o) => (Victim::Thing(o), k),
                    _ => (Victim::Part(p), k),
                },
                Victim::Unknown => (owner, Some(j)),
                other => (other, k),
            };
        }
        // "crushed the bones of his toes": a being's bones are body parts.
        if matches!(w, "bones" | "bone")
            && word(s, j + 1) == Some("of")
            && let (Victim::Part(owner) | Victim::Being(owner), k) = right_victim(s, j + 1)
        {
            return (Victim::Part(format!("{owner} {w}")), k);
        }
        match classify(t) {
            Some(Victim::Part(p)) => return (resolve_part(s, j, &p), Some(j)),
            Some(v) => return (v, Some(j)),
            None => {}
        }
        if is_name_at(s, j) {
            return (Victim::Being(w.into()), Some(j));
        }
        if after_possessive && !is_in(List::Skippable, w) && !is_adverb(w) {
            // "slashed his whip": the thing owned is no body part.
            return (Victim::Unknown, Some(j));
        }
        if w == "it" {
            return (Victim::Unknown, Some(j));
        }
        // "cut one of them down", "killed two of the men".
        if (is_in(List::NumberWords, w) || matches!(w, "some" | "many" | "each" | "most"))
            && word(s, j + 1) == Some("of")
        {
            j += 2;
            continue;
        }
        j += 1;
    }
    (Victim::Unknown, None)
}

/// The subject to the left of index `i`, skipping auxiliaries, adverbs and `and`; with its
/// token index.
fn left_subject(s: &Sentence, i: usize) -> (Victim, Option<usize>) {
    let mut j = i;
    let mut steps = 0;
    while j > 0 && steps < 7 {
        j -= 1;
        steps += 1;
        let t = &s.toks[j];
        if t.punct && !t.is(",") {
            break;
        }
        if t.punct {
            continue;
        }
        let w = t.w.as_str();
        if is_in(List::SubjectPronouns, w) || is_in(List::ObjectPronouns, w) || w == "her" {
            return (Victim::Being(w.into()), Some(j));
        }
        if matches!(w, "it" | "which" | "what" | "this") {
            return (Victim::Unknown, Some(j));
        }
        match classify(t) {
            Some(Victim::Part(p)) => return (resolve_part(s, j, &p), Some(j)),
            Some(v) => return (v, Some(j)),
            None => {}
        }
        if is_name_at(s, j) {
            if j > 0 && s.toks[j - 1].w == "of" {
                // "the tropic of Capricorn": the head noun is further left.
                continue;
            }
            return (Victim::Being(w.into()), Some(j));
        }
        // An unknown word is the subject's head noun unless it is a coordinated verb
        // ("stumbled and was killed") or an adverb or filler.
        // "dragged down and torn": a verb and its particle before "and".
        let coordinated = s.toks.get(j + 1).is_some_and(|n| n.w == "and" || n.is(","))
            || (s
                .toks
                .get(j + 1)
                .is_some_and(|n| is_in(List::Prepositions, &n.w))
                && s.toks.get(j + 2).is_some_and(|n| n.w == "and"));
        if !(t.cap || coordinated || is_adverb(w) || is_known_word(w)) {
            return (Victim::Unknown, Some(j));
        }
    }
    (Victim::Unknown, None)
}

/// Whether the token before index `v` (skipping determiners) is a negator: `not a man`.
fn negated_noun(s: &Sentence, v: usize) -> Option<String> {
    let mut j = v;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            return None;
        }
        if is_in(List::Negators, &t.w) {
            return Some(t.w.clone());
        }
        if !matches!(
            t.w.as_str(),
            "a" | "an" | "single" | "one" | "of" | "the" | "them" | "us" | "any"
        ) {
            return None;
        }
    }
    None
}

/// Whether the cue at `i` is in the passive voice (or a participle describing its subject);
/// an -ing form never is (`lay burning`).
fn is_passive(s: &Sentence, i: usize) -> bool {
    if s.toks[i].w.ends_with("ing") {
        return false;
    }
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        let w = t.w.as_str();
        if is_in(List::PassiveAux, w) {
            return true;
        }
        // "were struck down and killed": a participle coordinated with a passive one.
        if w == "and" && j > 0 {
            let mut p = j - 1;
            if p > 0 && matches!(s.toks[p].w.as_str(), "down" | "off" | "up" | "out" | "over") {
                p -= 1;
            }
            if !s.toks[p].punct && is_participle(&s.toks[p].w) && is_passive(s, p) {
                return true;
            }
            break;
        }
        if is_adverb(w)
            || matches!(
                w,
                "not"
                    | "never"
                    | "also"
                    | "all"
                    | "both"
                    | "then"
                    | "nearly"
                    | "almost"
                    | "once"
                    | "twice"
                    | "again"
                    | "being"
                    | "been"
                    | "just"
                    | "so"
                    | "too"
                    | "very"
            )
        {
            continue;
        }
        break;
    }
    word(s, i + 1) == Some("by") && word(s, i + 2).is_some()
}

/// The modal, negation or avoidance word governing the verb group that ends at `i`.
fn verb_group_modality(s: &Sentence, i: usize) -> Option<(Rule, String)> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        let w = t.w.as_str();
        if is_in(List::Negators, w) {
            return Some((Rule::Negated, w.into()));
        }
        if is_in(List::Avoiders, w) {
            return Some((Rule::Avoided, w.into()));
        }
        if is_in(List::Hypotheticals, w) {
            // "about", "going", "ready" only as "about to", "going to".
            let needs_to = matches!(
                w,
                "about"
                    | "going"
                    | "ready"
                    | "want"
                    | "wants"
                    | "wanted"
                    | "meant"
                    | "mean"
                    | "means"
                    | "intended"
                    | "intend"
                    | "intends"
                    | "tried"
                    | "try"
                    | "tries"
                    | "trying"
                    | "attempted"
                    | "attempt"
                    | "attempting"
                    | "planned"
                    | "plan"
                    | "dare"
                    | "dared"
                    | "longed"
                    | "determined"
                    | "resolved"
                    | "swore"
                    | "swear"
                    | "vowed"
                    | "vow"
                    | "promised"
                    | "threatens"
                    | "threaten"
                    | "threatening"
                    | "threatened"
            );
            if !needs_to
                || word(s, j + 1) == Some("to")
                || matches!(
                    w,
                    "threatened" | "threatening" | "threaten" | "threatens" | "attempted"
                )
            {
                return Some((Rule::Hypothetical, w.into()));
            }
            return None;
        }
        // Objects and pronouns between a verb and an infinitive: "threatened him to".
        if is_in(List::VerbFillers, w) || is_adverb(w) || is_in(List::PhysicalQualifiers, w) {
            continue;
        }
        if matches!(
            w,
            "being"
                | "he"
                | "she"
                | "i"
                | "we"
                | "they"
                | "you"
                | "him"
                | "her"
                | "them"
                | "me"
                | "us"
        ) && (j + 1 < i
            || j > 0
                && (is_in(List::VerbFillers, &s.toks[j - 1].w)
                    || is_in(List::Hypotheticals, &s.toks[j - 1].w)
                    || is_in(List::Negators, &s.toks[j - 1].w)))
        {
            // "escaped being shot", "would he hurt": keep looking past one pronoun.
            continue;
        }
        break;
    }
    None
}

/// A conditional or simile opener earlier in the clause, or a question mark after the cue.
fn clause_modality(s: &Sentence, i: usize) -> Option<(Rule, String)> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        if is_in(List::HypotheticalOpeners, &t.w) {
            if t.w == "if" && j > 0 && s.toks[j - 1].w == "as" {
                return Some((Rule::Hypothetical, "as if".into()));
            }
            return Some((Rule::Hypothetical, t.w.clone()));
        }
        if t.w == "though" && j > 0 && s.toks[j - 1].w == "as" {
            return Some((Rule::Hypothetical, "as though".into()));
        }
        if t.w == "like"
            && s.toks[j + 1..i]
                .iter()
                .all(|x| is_in(List::Skippable, &x.w))
        {
            return Some((Rule::Hypothetical, "like".into()));
        }
    }
    for t in &s.toks[i + 1..] {
        if t.is("?") {
            return Some((Rule::Hypothetical, "question".into()));
        }
        if t.is(".") || t.is("!") || t.is(";") {
            break;
        }
    }
    if s.question
        && !s.toks[i + 1..]
            .iter()
            .any(|t| t.is(".") || t.is("!") || t.is(";"))
    {
        return Some((Rule::Hypothetical, "question".into()));
    }
    None
}

/// A curse (`Lord strike you dead`, `God damn`) or a modal before its subject (`may
/// lightning strike me`, `would the blow kill him`): the injury is wished or asked about.
fn curse_or_inverted_modal(s: &Sentence, i: usize) -> Option<String> {
    let from = i.saturating_sub(3);
    let window = &s.toks[from..i];
    if window.iter().any(|t| t.punct) {
        return None;
    }
    if let Some(t) = window.last()
        && matches!(
            t.w.as_str(),
            "lord"
                | "god"
                | "heaven"
                | "heavens"
                | "devil"
                | "curses"
                | "curse"
                | "plague"
                | "pox"
                | "damn"
        )
    {
        return Some("curse".into());
    }
    if i >= 2
        && let Some(t) = window
            .iter()
            .find(|t| matches!(t.w.as_str(), "may" | "let"))
        && !is_in(List::VerbFillers, &s.toks[i - 1].w)
    {
        return Some(t.w.clone());
    }
    None
}

/// A feeling verb right before the cue, adverbs skipped (`felt deeply injured`).
fn feeling_verb_before(s: &Sentence, i: usize) -> Option<String> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            return None;
        }
        if is_in(List::FeelingVerbs, t.w.as_str()) {
            return Some(t.w.clone());
        }
        if !(is_adverb(&t.w)
            || matches!(
                t.w.as_str(),
                "so" | "very" | "much" | "quite" | "too" | "rather"
            ))
        {
            return None;
        }
    }
    None
}

/// Abstract agent after `by`/`with` ("struck by her beauty", "crushed by the news").
fn abstract_agent(s: &Sentence, i: usize) -> Option<String> {
    let w = word(s, i + 1)?;
    if !matches!(w, "by" | "with") {
        return None;
    }
    for k in i + 2..(i + 6).min(s.toks.len()) {
        let t = &s.toks[k];
        if t.punct {
            return None;
        }
        if is_in(List::Abstract, &t.w) {
            return Some(t.w.clone());
        }
        if !(is_in(List::Skippable, &t.w)
            || is_in(List::Possessives, &t.w)
            || is_adverb(&t.w)
            || t.w == "sudden")
        {
            return None;
        }
    }
    None
}

/// Whether a state cue at `i` is marked as a new injury: `another wound`, `fresh blood`,
/// `wounded again`, `a second wound`.
fn marked_new(s: &Sentence, i: usize) -> bool {
    let before = i.saturating_sub(3);
    s.toks[before..i]
        .iter()
        .any(|t| is_in(List::NewMarkers, t.w.as_str()))
        || s.toks[i + 1..(i + 4).min(s.toks.len())]
            .iter()
            .take_while(|t| !t.punct)
            .any(|t| matches!(t.w.as_str(), "again" | "anew"))
}

/// The first being named in the sentence (a pronoun, a person, an animal or a name), other
/// than at the cue itself.
fn being_in_sentence(s: &Sentence, cue: usize) -> Option<String> {
    s.toks.iter().enumerate().find_map(|(k, t)| {
        if k == cue || t.punct {
            return None;
        }
        let w = t.w.as_str();
        let being = is_in(List::SubjectPronouns, w)
            || is_in(List::ObjectPronouns, w)
            || is_in(List::People, w)
            || is_in(List::Animals, w)
            || is_name(t);
        being.then(|| w.to_string())
    })
}

/// The first body part of a being named in the sentence before the cue (`his wrist`, `the
/// boy's leg`).
fn part_in_sentence(s: &Sentence, cue: usize) -> Option<String> {
    // "his arm bent under him, broken.": a participle alone at the end describes the part
    // named last.
    let appended =
        cue > 0 && s.toks[cue - 1].is(",") && s.toks.get(cue + 1).is_none_or(|t| t.punct);
    let mut found = s.toks[..cue].iter().enumerate().filter_map(|(k, t)| {
        // Only fillers between: "his legs badly burned", "his wrist, which was broken".
        let between = &s.toks[k + 1..cue];
        let close = appended
            || between.iter().enumerate().all(|(n, b)| {
                matches!(
                    b.w.as_str(),
                    "which"
                        | "that"
                        | "was"
                        | "were"
                        | "is"
                        | "had"
                        | "been"
                        | "being"
                        | "so"
                        | "very"
                        | "too"
                ) || is_adverb(&b.w)
                    || is_in(List::PhysicalQualifiers, &b.w)
                    || (b.is(",")
                        && between
                            .get(n + 1)
                            .is_some_and(|x| matches!(x.w.as_str(), "which" | "that")))
            });
        let part = close
            && is_in(List::BodyParts, &t.w)
            && (!t.cap || t.first)
            && !s.toks[k.saturating_sub(3)..k]
                .iter()
                .any(|p| is_in(List::Materials, &p.w))
            && (s.toks[..k]
                .iter()
                .rev()
                .take(4)
                .any(|p| is_in(List::Possessives, &p.w) || p.w.ends_with("'s"))
                // "the leg", "the left leg", not "the chairs had legs".
                || s.toks[k.saturating_sub(2)..k].iter().any(|p| p.w == "the")
                // "several had limbs broken": a part had broken.
                || k > 0
                    && matches!(s.toks[k - 1].w.as_str(), "had" | "has" | "have")
                    && matches!(
                        left_subject(s, k - 1),
                        (Victim::Being(_), _) | (Victim::Unknown, None)
                    ));
        part.then(|| t.w.clone())
    });
    if appended {
        found.next_back()
    } else {
        found.next()
    }
}

fn eval_cue(s: &Sentence, i: usize, mut kind: CueKind) -> Option<Outcome> {
    // "half-drowned" is judged as "drowned".
    let full = s.toks[i].w.as_str();
    let w = if lexicon::cue_kind(full).is_some() {
        full
    } else {
        full.rsplit_once('-').map_or(full, |(_, last)| last)
    };
    let prev = if i > 0 { word(s, i - 1) } else { None };
    // Nouns that look like verbs, and "wound" the past of "wind".
    let after_det = prev.is_some_and(|p| is_in(List::NounDeterminers, p));
    match w {
        "wound" => {
            if after_det {
                kind = CueKind::Noun;
            } else if !prev.is_some_and(|p| {
                matches!(
                    p,
                    "to" | "will"
                        | "would"
                        | "shall"
                        | "not"
                        | "may"
                        | "might"
                        | "could"
                        | "should"
                        | "must"
                        | "can"
                )
            }) {
                return None;
            }
        }
        "murder" | "cut" if after_det => kind = CueKind::Noun,
        "shot" | "hit" | "strike" | "strikes" | "kick" | "punch" | "beat" | "bit" | "bite"
        | "stab" | "kill" | "hurt" | "break" | "breaks" | "harpoon" | "spear" | "club"
        | "lance" | "claw" | "whip" | "burn" | "sting" | "crack" | "snap" | "tear" | "twist"
        | "graze" | "crush" | "gore" | "slash" | "butcher" | "slaughter" | "massacre"
        | "sprain" | "poison" | "die"
            if after_det =>
        {
            return None;
        }
        "bit" if word(s, i + 1) == Some("by") => return None, // "bit by bit"
        // "frozen to death" is judged with its verb (patterns::to_death).
        "death" | "deaths" if prev == Some("to") => return None,
        // "the stove", "stove in his ribs".
        "stove" if word(s, i + 1) != Some("in") => return None,
        _ => {}
    }
    // "a dead lull", "his skewered feather", "my burning arm" (with fever): a cue between a
    // determiner and a noun is an adjective; of a thing or a feeling, no injury.
    if !matches!(kind, CueKind::Noun | CueKind::Blood)
        && (kind != CueKind::Condition || matches!(w, "dead" | "dying"))
        && prev.is_some_and(|p| {
            matches!(p, "a" | "an" | "the" | "with") || is_in(List::Possessives, p)
        })
        && s.toks.get(i + 1).is_some_and(|n| {
            !n.punct
                && (w.ends_with("ing") && is_in(List::BodyParts, &n.w)
                    || !(is_in(List::Prepositions, &n.w)
                        || is_in(List::Skippable, &n.w)
                        || is_adverb(&n.w)
                        || n.cap
                        || matches!(classify(n), Some(Victim::Being(_) | Victim::Part(_)))))
        })
    {
        return None;
    }
    // "succumbed to his conviction", "died to the world": a death to something abstract.
    if kind == CueKind::Lethal
        && word(s, i + 1) == Some("to")
        && let (Victim::Abstract(a), _) = right_victim(s, i + 1)
    {
        return Some(Outcome::Set(Rule::Idiom, a));
    }
    // "it was poison", "it is murder": after a copula, a verb's base form is a noun.
    if matches!(kind, CueKind::Violent | CueKind::Lethal | CueKind::BodyPart)
        && prev.is_some_and(|p| matches!(p, "was" | "is" | "were" | "are" | "be" | "been"))
        && !is_participle(w)
        && !w.ends_with("ing")
    {
        return None;
    }
    // "dead tired", "dying to know", "choked back her tears", "killed time".
    if let Some(phrase) = lexicon::idioms_after(w).iter().find(|phrase| {
        phrase
            .iter()
            .enumerate()
            .all(|(k, p)| word(s, i + 1 + k) == Some(*p))
    }) {
        return Some(Outcome::Set(Rule::Idiom, phrase.join(" ")));
    }
    if kind == CueKind::Blood {
        return Some(eval_blood(s, i));
    }
    // An attempt: "struck at him", "shot at the man".
    // ("killed at once", "shot at dawn" are not attempts.)
    // A place after a passive is where, not an attempt: "was hanged at Newgate".
    let place_after = is_passive(s, i) && s.toks.get(i + 2).is_some_and(|t| t.cap && !t.punct);
    if matches!(kind, CueKind::Violent | CueKind::Lethal | CueKind::BodyPart)
        && word(s, i + 1) == Some("at")
        && !place_after
        && !word(s, i + 2).is_some_and(|n| {
            matches!(
                n,
                "once"
                    | "last"
                    | "first"
                    | "length"
                    | "least"
                    | "dawn"
                    | "daybreak"
                    | "night"
                    | "noon"
                    | "midnight"
                    | "sunrise"
                    | "sunset"
                    | "sea"
                    | "close"
            )
        })
    {
        return Some(Outcome::Set(Rule::Avoided, "at".into()));
    }
    if matches!(kind, CueKind::Condition | CueKind::Hurt)
        && let Some(feel) = feeling_verb_before(s, i)
    {
        return Some(Outcome::Set(Rule::Idiom, feel));
    }
    if let Some(by) = curse_or_inverted_modal(s, i) {
        return Some(Outcome::Set(Rule::Hypothetical, by));
    }
    // "struck my ear", "struck her eyes": perception, not a blow.
    if matches!(w, "struck" | "strike" | "strikes" | "smote")
        && s.toks[i + 1..(i + 3).min(s.toks.len())].iter().any(|t| {
            matches!(
                t.w.as_str(),
                "ear" | "ears" | "eye" | "eyes" | "sight" | "fancy"
            )
        })
    {
        return Some(Outcome::Set(Rule::Idiom, "perception".into()));
    }
    // "cut short", "cut off" in the passive ("was cut off from the others").
    if matches!(w, "cut" | "cuts") && word(s, i + 1) == Some("short") {
        return Some(Outcome::Set(Rule::Idiom, "short".into()));
    }
    let passive = is_passive(s, i);
    if passive
        && matches!(w, "cut")
        && word(s, i + 1).is_some_and(|n| matches!(n, "off" | "out" | "up"))
    {
        return Some(Outcome::Set(
            Rule::Idiom,
            word(s, i + 1).unwrap_or_default().into(),
        ));
    }
    // "We are beaten": defeat, unless by or with something, or to death.
    if passive
        && matches!(w, "beat" | "beaten")
        && !word(s, i + 1).is_some_and(|n| matches!(n, "by" | "with" | "to"))
    {
        return Some(with_modality(s, i, Outcome::Set(Rule::Ambiguous, w.into())));
    }
    // "it struck me", "it struck her that": a thought, not a blow.
    if !passive && matches!(w, "struck" | "strike" | "strikes") {
        let subject = s.toks[..i]
            .iter()
            .rev()
            .find(|t| {
                !(is_adverb(&t.w)
                    || matches!(
                        t.w.as_str(),
                        "often"
                            | "always"
                            | "sometimes"
                            | "never"
                            | "once"
                            | "now"
                            | "first"
                            | "then"
                            | "at"
                    ))
            })
            .map(|t| t.w.as_str());
        if matches!(subject, Some("it" | "this" | "what" | "which" | "that")) {
            return Some(Outcome::Set(Rule::Idiom, "it struck".into()));
        }
    }
    if passive && matches!(w, "struck" | "stricken" | "smitten") && word(s, i + 1) == Some("with") {
        match right_victim(s, i + 1).0 {
            Victim::Thing(_) => {}
            _ => return Some(Outcome::Set(Rule::Idiom, "struck with".into())),
        }
    }
    let (victim, vidx) = match kind {
        CueKind::Noun => noun_victim(s, i),
        CueKind::Condition => {
            let (v, k) = right_victim(s, i);
            match v {
                Victim::Being(_) | Victim::Part(_) | Victim::Thing(_) | Victim::Abstract(_)
                    if k == Some(i + 1) || adjacent_noun(s, i, k) =>
                {
                    (v, k)
                }
                _ => match left_subject(s, i) {
                    // "he sank beneath the waves, choking": a participle after a comma
                    // describes the sentence's subject, not the nearest noun.
                    // "found the next day, frozen and lifeless": nor a time.
                    (Victim::Thing(_) | Victim::Abstract(_), Some(k))
                        if s.toks[k..i].iter().any(|t| t.is(","))
                            && let Some(b) = being_in_sentence(s, i) =>
                    {
                        (Victim::Being(b), None)
                    }
                    other => other,
                },
            }
        }
        _ if passive => left_subject(s, i),
        _ => {
            let (v, k) = right_victim(s, i);
            let before = i.checked_sub(1).map(|p| &s.toks[p]);
            if v == Victim::Unknown
                && k.is_none()
                && is_participle(w)
                && s.toks
                    .get(i + 1)
                    .is_none_or(|n| n.punct || is_in(List::Prepositions, &n.w) || is_adverb(&n.w))
                && let Some(b) = before.filter(|t| {
                    matches!(
                        t.w.as_str(),
                        "him" | "her" | "them" | "me" | "us" | "himself" | "herself" | "themselves"
                    )
                })
            {
                // "found him murdered", "left them wounded".
                (Victim::Being(b.w.clone()), Some(i - 1))
            } else if is_in(List::SubjectVictimVerbs, w) && v == Victim::Unknown && k.is_none() {
                left_subject(s, i)
            } else if is_in(List::SubjectVictimVerbs, w)
                && matches!(&v, Victim::Abstract(a) if is_time(a))
                && let (b @ Victim::Being(_), kb) = left_subject(s, i)
            {
                // "she expired an hour later": a time is when, not who.
                (b, kb)
            } else if v == Victim::Unknown
                && k.is_none()
                && !after_det
                && matches!(
                    w,
                    "snapped"
                        | "snap"
                        | "snaps"
                        | "cracked"
                        | "crack"
                        | "cracks"
                        | "broke"
                        | "fractured"
                        | "shattered"
                )
            {
                // "he heard the bone crack", "his leg snapped": a body part that breaks (not
                // `its arm`, a thing's as often as an animal's).
                match left_subject(s, i) {
                    (p @ Victim::Part(_), Some(k)) if k == 0 || s.toks[k - 1].w != "its" => {
                        (p, Some(k))
                    }
                    _ => (v, k),
                }
            } else if v == Victim::Unknown && matches!(w, "struck" | "hit") {
                // "My head struck on a piece of iron": a body part that hits something.
                match left_subject(s, i) {
                    (p @ Victim::Part(_), k) => (p, k),
                    _ => (v, k),
                }
            } else {
                (v, k)
            }
        }
    };
    // Idioms tied to the verb.
    if let Some(k) = vidx
        && !passive
        && matches!(kind, CueKind::Violent | CueKind::Hurt | CueKind::BodyPart)
        && let Some(after) = word(s, k + 1)
    {
        let idiom = match w {
            "struck" | "strike" | "strikes" | "stricken" | "smote" | "smite" | "smitten" => {
                matches!(
                    after,
                    "as" | "that"
                        | "how"
                        | "forcibly"
                        | "dumb"
                        | "silent"
                        | "speechless"
                        | "motionless"
                )
            }
            "cut" | "cuts" => matches!(after, "short" | "off" | "dead" | "out" | "up"),
            "beat" | "beaten" => matches!(after, "at" | "hollow"),
            "hit" | "hits" => matches!(after, "off" | "upon"),
            _ => false,
        };
        if idiom && is_in(List::IdiomAfterObject, after) {
            return Some(Outcome::Set(Rule::Idiom, after.into()));
        }
    }
    if passive
        && matches!(
            kind,
            CueKind::Violent | CueKind::Hurt | CueKind::BodyPart | CueKind::Lethal
        )
        && let Some(a) = abstract_agent(s, i)
    {
        return Some(Outcome::Set(Rule::Idiom, a));
    }
    if passive
        && matches!(w, "struck" | "stricken" | "smitten")
        && word(s, i + 1)
            .is_some_and(|n| matches!(n, "dumb" | "silent" | "speechless" | "motionless" | "blind"))
    {
        return Some(Outcome::Set(
            Rule::Idiom,
            word(s, i + 1).unwrap_or_default().into(),
        ));
    }
    if !passive && matches!(kind, CueKind::Violent | CueKind::Lethal | CueKind::BodyPart) {
        let (subj, _) = left_subject(s, i);
        if let Victim::Abstract(a) = subj {
            return Some(Outcome::Set(Rule::Idiom, a));
        }
    }
    // "sank beneath the dark water and drowned": the water is where, not who; "those who had
    // not reached the water were struck down and killed": a thing is not killed.
    let victim = match victim {
        Victim::Thing(_)
            if kind == CueKind::Lethal
                && (passive || is_in(List::SubjectVictimVerbs, w))
                && let Some(b) = being_in_sentence(s, i) =>
        {
            Victim::Being(b)
        }
        v => v,
    };
    // "cut him to ribbons with a dozen quiet questions": words, looks and jests do not wound.
    let transitive_condition = kind == CueKind::Condition
        && vidx.is_some_and(|k| k > i)
        && !prev.is_some_and(|p| is_in(List::NounDeterminers, p));
    if matches!(victim, Victim::Being(_) | Victim::Part(_))
        && (matches!(kind, CueKind::Violent | CueKind::BodyPart | CueKind::Lethal)
            || transitive_condition)
        && let Some(by) = figurative_instrument(s, vidx.map_or(i, |k| k.max(i)))
    {
        return Some(Outcome::Set(Rule::Idiom, by));
    }
    // Victim class.
    let victim_name = match &victim {
        Victim::Thing(t) => return Some(Outcome::Set(Rule::Object, t.clone())),
        Victim::Abstract(a) => return Some(Outcome::Set(Rule::Idiom, a.clone())),
        Victim::Negative(n) => return Some(Outcome::Set(Rule::Negated, n.clone())),
        Victim::Part(p)
            if vidx.is_some_and(|k| material_before(s, k))
                || effigy(s)
                || !p.contains(' ')
                    && [Some(i), vidx]
                        .into_iter()
                        .flatten()
                        .any(|a| to_fragments(s, a)) =>
        {
            return Some(Outcome::Set(Rule::Object, p.clone()));
        }
        Victim::Part(p) => {
            let gesture = (matches!(w, "bit" | "bite" | "bitten" | "cut")
                && lexicon::words(List::GestureParts)
                    .iter()
                    .any(|g| p.ends_with(g)))
                || (matches!(w, "snapped" | "cracked")
                    && (p.ends_with("fingers") || p.ends_with("knuckles")));
            if gesture {
                return Some(Outcome::Set(Rule::Idiom, p.clone()));
            }
            p.clone()
        }
        Victim::Being(b) => {
            if kind == CueKind::BodyPart {
                // "tore him to pieces": after the verb or after its object.
                let to_pieces = [Some(i), vidx].into_iter().flatten().any(|a| {
                    word(s, a + 1) == Some("to")
                        && word(s, a + 2)
                            .is_some_and(|n| matches!(n, "pieces" | "shreds" | "death"))
                        || word(s, a + 1) == Some("apart")
                        || word(s, a + 1) == Some("limb")
                });
                // "torn by the wolves": broken by a being is an injury.
                let by_being = passive
                    && word(s, i + 1) == Some("by")
                    && patterns::being_at(s, i + 2).is_some();
                if !to_pieces && !by_being {
                    return Some(Outcome::Set(Rule::Idiom, b.clone()));
                }
            }
            b.clone()
        }
        // Being killed, dying and conditions are about beings (the agent of an active killing verb
        // is not its victim): when the grammar finds no victim
        // ("three of the labourers were killed outright", "lay poisoned in the tent"), a
        // being elsewhere in the sentence is one. A breaking verb needs a body part
        // ("landed on his wrist, which was broken").
        Victim::Unknown
            if (kind == CueKind::Condition
                || kind == CueKind::Lethal
                    && (passive
                        || is_in(List::SubjectVictimVerbs, w) && vidx.is_none_or(|k| k <= i)))
                && !thing_pronoun_subject(s, i, kind, vidx)
                && let Some(b) = being_in_sentence(s, i) =>
        {
            b
        }
        // The same for a participle after the part: "his legs badly burned".
        Victim::Unknown
            if matches!(kind, CueKind::BodyPart | CueKind::Violent)
                && is_participle(w)
                && !matches!(left_subject(s, i).0, Victim::Thing(_))
                && let Some(p) = part_in_sentence(s, i) =>
        {
            if effigy(s) {
                return Some(Outcome::Set(Rule::Object, p));
            }
            p
        }
        Victim::Unknown => match kind {
            // "injury" often means a wrong done to someone; a wound is a wound; a death
            // without an owner is no one's ("the fear of death").
            CueKind::Noun if matches!(w, "death" | "deaths") => return None,
            CueKind::Noun if !matches!(w, "injury" | "injuries") => "someone".to_string(),
            CueKind::Noun | CueKind::Condition => {
                return Some(with_modality(
                    s,
                    i,
                    Outcome::Set(Rule::Ambiguous, "victim unclear".into()),
                ));
            }
            CueKind::Lethal => {
                return Some(with_modality(
                    s,
                    i,
                    Outcome::Set(Rule::Ambiguous, "victim unclear".into()),
                ));
            }
            CueKind::Hurt => {
                return Some(with_modality(
                    s,
                    i,
                    Outcome::Set(Rule::Ambiguous, "hurt".into()),
                ));
            }
            _ => return None,
        },
    };
    if let Some(v) = vidx
        && let Some(n) = negated_noun(s, v)
            .or_else(|| (word(s, v + 1) == Some("not")).then(|| "not".to_string()))
    {
        return Some(Outcome::Set(Rule::Negated, n));
    }
    if kind == CueKind::Hurt && !matches!(victim, Victim::Part(_)) && !hurt_is_physical(s, i) {
        return Some(with_modality(
            s,
            i,
            Outcome::Set(Rule::Ambiguous, "hurt".into()),
        ));
    }
    let state = (matches!(kind, CueKind::Noun | CueKind::Condition) || attributive(s, i))
        && !marked_new(s, i);
    Some(with_modality(
        s,
        i,
        Outcome::Injury {
            victim: victim_name,
            state,
        },
    ))
}

/// "until it was scarred": a condition word (other than dying, bleeding, drowning) whose
/// subject is `it`, `which`, `this` or `what` right before its verb group is a thing's
/// condition; no being elsewhere in the sentence is its victim.
fn thing_pronoun_subject(s: &Sentence, i: usize, kind: CueKind, vidx: Option<usize>) -> bool {
    let w = s.toks[i].w.as_str();
    kind == CueKind::Condition
        && !is_in(List::SubjectVictimVerbs, w)
        && vidx.is_some_and(|k| {
            matches!(s.toks[k].w.as_str(), "it" | "which" | "this" | "what")
                && s.toks[k + 1..i]
                    .iter()
                    .all(|t| is_in(List::VerbFillers, &t.w) || is_adverb(&t.w))
        })
}

/// Whether the cue is a past participle: an `-ed` or `-en` form or a listed one (`struck`).
fn is_participle(w: &str) -> bool {
    w.ends_with("ed") || w.ends_with("en") || is_in(List::Participles, w)
}

/// A participle between a determiner and a body part describes a state, not an event: `the
/// broken arm`, `his burnt hand`.
fn attributive(s: &Sentence, i: usize) -> bool {
    let w = s.toks[i].w.as_str();
    is_participle(w)
        && i > 0
        && (is_in(List::Possessives, &s.toks[i - 1].w)
            || matches!(s.toks[i - 1].w.as_str(), "the" | "a" | "its")
            || s.toks[i - 1].poss)
        && word(s, i + 1).is_some_and(|n| is_in(List::BodyParts, n))
}

/// Whether the victim found to the right is the noun right after an adjective-like cue
/// (`wounded man`, `wounded old man`).
fn adjacent_noun(s: &Sentence, i: usize, k: Option<usize>) -> bool {
    let Some(k) = k else { return false };
    s.toks[i + 1..k].iter().all(|t| {
        !t.punct
            && (is_in(List::Skippable, &t.w)
                || is_in(List::Possessives, &t.w)
                || t.poss
                || is_adverb(&t.w))
    })
}

fn with_modality(s: &Sentence, i: usize, outcome: Outcome) -> Outcome {
    if let Some((rule, by)) = verb_group_modality(s, i).or_else(|| clause_modality(s, i)) {
        return Outcome::Set(rule, by);
    }
    outcome
}

fn hurt_is_physical(s: &Sentence, i: usize) -> bool {
    let before = i.saturating_sub(3);
    if s.toks[before..i]
        .iter()
        .any(|t| is_in(List::PhysicalQualifiers, &t.w))
    {
        return true;
    }
    let after: Vec<&str> = s.toks[i + 1..(i + 6).min(s.toks.len())]
        .iter()
        .take_while(|t| !t.punct)
        .map(|t| t.w.as_str())
        .collect();
    after.iter().any(|w| {
        is_in(List::BodyParts, w)
            || matches!(
                *w,
                "fall"
                    | "blow"
                    | "blows"
                    | "stone"
                    | "explosion"
                    | "shot"
                    | "bullet"
                    | "accident"
                    | "kick"
            )
    })
}

fn noun_victim(s: &Sentence, i: usize) -> (Victim, Option<usize>) {
    // Possessor on the left: "his wound", "the captain's injuries".
    let mut j = i;
    for _ in 0..3 {
        if j == 0 {
            break;
        }
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        if is_in(List::Negators, &t.w) {
            return (Victim::Negative(t.w.clone()), Some(j));
        }
        if t.poss {
            return match classify(t) {
                Some(v @ Victim::Thing(_)) => (v, Some(j)),
                _ => (Victim::Being(t.w.clone()), Some(j)),
            };
        }
        if is_in(List::Possessives, &t.w) {
            return (Victim::Being(t.w.clone()), Some(j));
        }
    }
    // "a wound in his side", "the wound of the ship".
    if let Some(p) = word(s, i + 1)
        && matches!(p, "in" | "on" | "to" | "of" | "upon" | "across")
    {
        let (v, k) = right_victim_after_prep(s, i + 1);
        if v != Victim::Unknown {
            return (v, k);
        }
    }
    (Victim::Unknown, None)
}

fn right_victim_after_prep(s: &Sentence, p: usize) -> (Victim, Option<usize>) {
    // Reuse the object search from the preposition, which it would otherwise stop at.
    right_victim(s, p)
}

fn eval_blood(s: &Sentence, i: usize) -> Outcome {
    let w = s.toks[i].w.as_str();
    let prev = if i > 0 { word(s, i - 1) } else { None };
    let next: Vec<&str> = s.toks[i + 1..]
        .iter()
        .take_while(|t| !t.punct)
        .map(|t| t.w.as_str())
        .filter(|w| {
            !(is_adverb(w) || matches!(*w, "again" | "still" | "then" | "almost" | "quite"))
        })
        .take(3)
        .collect();
    if w == "blood" {
        if let Some(p) = prev.filter(|p| is_in(List::BloodIdiomsBefore, p)) {
            return Outcome::Set(Rule::Idiom, format!("{p} blood"));
        }
        for idiom in lexicon::blood_idioms_after() {
            if next.len() >= idiom.len() && next[..idiom.len()] == **idiom {
                return Outcome::Set(Rule::Idiom, format!("blood {}", idiom.join(" ")));
            }
        }
    }
    if w != "blood" {
        // "bloody nose" is an injury; "bloody battle" or "bloodstained coat" is only seen.
        let (v, _) = right_victim(s, i);
        if let Victim::Part(p) = v {
            return with_modality(
                s,
                i,
                Outcome::Injury {
                    victim: p,
                    state: !marked_new(s, i),
                },
            );
        }
        return with_modality(s, i, Outcome::Set(Rule::Ambiguous, w.into()));
    }
    let owner = if let Some(p) = prev.filter(|p| is_in(List::Possessives, p)) {
        Some(p.to_string())
    } else if i > 0 && s.toks[i - 1].poss {
        match classify(&s.toks[i - 1]) {
            Some(Victim::Thing(_)) => None,
            _ => Some(s.toks[i - 1].w.clone()),
        }
    } else if word(s, i + 1) == Some("of") {
        match right_victim(s, i + 1).0 {
            Victim::Being(b) => Some(b),
            _ => None,
        }
    } else {
        None
    };
    let flows = next.iter().any(|n| is_in(List::BloodFlow, n))
        || prev.is_some_and(|p| {
            matches!(
                p,
                "spat"
                    | "coughed"
                    | "vomited"
                    | "spitting"
                    | "coughing"
                    | "drew"
                    | "shed"
                    | "lost"
                    | "losing"
            )
        });
    if flows {
        let victim = owner.unwrap_or_else(|| "someone".into());
        return with_modality(
            s,
            i,
            Outcome::Injury {
                victim,
                state: !marked_new(s, i),
            },
        );
    }
    with_modality(s, i, Outcome::Set(Rule::Ambiguous, "blood".into()))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_phrasings;
