//! The oracle's word lists, read from `lexicon.toml` (compiled into the binary), and the
//! oracle's version.
//!
//! The lists are data so that they can be read, reviewed and extended without touching the
//! rules; they are checked when read ([`Lexicon::parse`]): every list the rules consult is
//! present and no other, no word appears twice in a list, no word is a cue of two kinds, and
//! every word is lowercase.
//!
//! ```
//! use nines_data::label::oracle::lexicon::{self, CueKind, List};
//!
//! assert_eq!(lexicon::cue_kind("stabbed"), Some(CueKind::Violent));
//! assert!(lexicon::is_in(List::People, "sailor"));
//! assert_eq!(lexicon::version().len(), 16);
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The lexicon compiled into the binary.
pub const EMBEDDED: &str = include_str!("lexicon.toml");

/// The rule code whose behaviour the version also covers.
const RULE_CODE: [&str; 8] = [
    include_str!("mod.rs"),
    include_str!("cues.rs"),
    include_str!("modality.rs"),
    include_str!("victims.rs"),
    include_str!("tokens.rs"),
    include_str!("lexicon.rs"),
    include_str!("patterns.rs"),
    include_str!("scene.rs"),
];

/// How an injury cue word behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CueKind {
    /// A word that itself says someone is injured (`wounded`, `bleeding`, `bruised`): the
    /// victim is the noun it describes or the subject; an unresolved victim makes it unsure.
    Condition,
    /// A violent verb (`stabbed`, `struck`, `shot`, `bit`): the victim is the object (active)
    /// or the subject (passive); it must be a being or a being's body part.
    Violent,
    /// A verb that injures only a body part (`broke`, `sprained`, `tore`): `broke his arm`
    /// counts, `broke the window` and `broke her heart` do not.
    BodyPart,
    /// A killing verb (`killed`, `slew`, `drowned`): the victim must be a being; an
    /// unresolved victim makes the verdict unsure.
    Lethal,
    /// A noun naming an injury (`wound`, `injuries`, `gash`): counts unless it belongs to a
    /// thing (`injury` without an owner is unsure: it often means a wrong done to someone).
    Noun,
    /// `hurt`: physical only with a body part, a physical qualifier (`badly`, `seriously`) or
    /// a physical cause; otherwise unsure.
    Hurt,
    /// `blood` and kin: an injury when it flows from someone or is someone's; unsure when it is
    /// only seen (`a pool of blood`); nothing in idioms (`his blood ran cold`).
    Blood,
}

/// What a multi-word phrase (`[phrases]` in `lexicon.toml`) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhraseKind {
    /// An injury or death (`breathed his last`, `a bullet in his chest`): the victim is the
    /// being the phrase names, else its subject.
    Injury,
    /// An injury state (`a bullet in his chest`, `among the slain`): new unless the prompt
    /// already describes an injury, like a condition word.
    State,
    /// Cue words inside it are figurative (`killed two birds`, `cut her to the quick`).
    Idiom,
}

/// One element of a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Any of these words (`"lost|loses|lose"` in the file).
    Words(Vec<&'static str>),
    /// `$poss`: a possessive determiner or a being's possessive (`his`, `the man's`).
    Poss,
    /// `$part`: a body part.
    Part,
    /// `$being`: a being, with its determiners (`him`, `the old farmer`, `his brother`).
    Being,
    /// `$end`: the end of the clause (punctuation, `and`, `but`, the end of the sentence);
    /// matches no word.
    End,
}

macro_rules! lists {
    ($($(#[$doc:meta])* $variant:ident => $key:literal,)*) => {
        /// A word list the rules consult; its key in `lexicon.toml` is [`List::key`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum List {
            $($(#[$doc])* $variant,)*
        }

        impl List {
            /// Every list.
            pub const ALL: &'static [List] = &[$(List::$variant,)*];

            /// Its key under `[lists]` in `lexicon.toml`.
            pub fn key(self) -> &'static str {
                match self {
                    $(List::$variant => $key,)*
                }
            }
        }
    };
}

lists! {
    /// Verbs whose intransitive subject is the victim (`he bled`, `the man drowned`).
    SubjectVictimVerbs => "subject_victim_verbs",
    /// Pronouns that denote a being as an object.
    ObjectPronouns => "object_pronouns",
    /// Pronouns that denote a being as a subject.
    SubjectPronouns => "subject_pronouns",
    /// Pronouns that deny a victim (`no one was hurt`, `struck nobody`).
    NegativePronouns => "negative_pronouns",
    /// Possessive determiners of beings.
    Possessives => "possessives",
    /// People.
    People => "people",
    /// Animals and other non-human beings.
    Animals => "animals",
    /// Things, including skeletons, robots, statues and corpses: damage to them is no injury.
    Objects => "objects",
    /// Body parts.
    BodyParts => "body_parts",
    /// Body parts of gestures (`bit his lip`).
    GestureParts => "gesture_parts",
    /// Abstract victims and agents (`wounded her pride`, `struck by her beauty`).
    Abstract => "abstract",
    /// Idioms after the object (`struck me as odd`, `cut him short`).
    IdiomAfterObject => "idiom_after_object",
    /// Words skipped when looking for a victim (articles, adjectives, adverbs).
    Skippable => "skippable",
    /// Prepositions.
    Prepositions => "prepositions",
    /// Auxiliaries and adverbs allowed inside a verb group.
    VerbFillers => "verb_fillers",
    /// Passive auxiliaries.
    PassiveAux => "passive_aux",
    /// Negators.
    Negators => "negators",
    /// Avoidance words (`nearly`, `narrowly`, `escaped`).
    Avoiders => "avoiders",
    /// Modal, threat and intention words.
    Hypotheticals => "hypotheticals",
    /// Conditional and simile openers (`if`, `as if`).
    HypotheticalOpeners => "hypothetical_openers",
    /// Words saying someone is unhurt.
    Unharmed => "unharmed",
    /// Qualifiers that make `hurt` physical.
    PhysicalQualifiers => "physical_qualifiers",
    /// Words after `blood` that make it flow.
    BloodFlow => "blood_flow",
    /// Words before `blood` that make it figurative (`in cold blood`).
    BloodIdiomsBefore => "blood_idioms_before",
    /// Determiners after which `shot`, `cut`, `hit`, ... are nouns.
    NounDeterminers => "noun_determiners",
    /// Materials that make a body part a thing (`marble head`, `wax arm`).
    Materials => "materials",
    /// Number words (never names, even capitalized).
    NumberWords => "number_words",
    /// Words marking a state cue as a new injury (`another wound`, `fresh blood`).
    NewMarkers => "new_markers",
    /// Verbs of feeling and seeming (`felt injured` is a feeling).
    FeelingVerbs => "feeling_verbs",
    /// Abbreviated titles whose full stop does not end a sentence.
    Titles => "titles",
    /// Poisons and venoms (`arsenic`, `strychnine`, `venom`).
    Poisons => "poisons",
    /// Drugs that poison only in excess (`laudanum`).
    Drugs => "drugs",
    /// Verbs that give a poison (`dosed`, `gave`, `swallowed`).
    Administer => "administer",
    /// Verbs before `to death` that kill, besides the cues (`frozen`, `starved`).
    ToDeathVerbs => "to_death_verbs",
    /// Words saying food or drink was bad (`tainted`, `foul`).
    Spoiled => "spoiled",
    /// Eating and drinking verbs.
    Ingestion => "ingestion",
    /// Signs of sickness (`convulsions`, `vomiting`, `fever`).
    Sickness => "sickness",
    /// Signs of stupor (`senseless`): a sign of sickness only with a poison or a drug.
    StuporSigns => "stupor_signs",
    /// Figurative instruments after `with` (`cut him to ribbons with questions`).
    FigurativeInstruments => "figurative_instruments",
    /// Words before `to death` that make it figurative (`bored to death`).
    ToDeathIdioms => "to_death_idioms",
    /// Words that squeeze a throat or neck (`squeezed`, `tightened`, `fingers`).
    Constriction => "constriction",
    /// Words of an embrace (`arms`, `kissed`): a neck in their sentence is not squeezed.
    Embrace => "embrace",
    /// Past participles that do not end in `-ed` or `-en` (`struck`, `shot`, `cut`).
    Participles => "participles",
    /// Person nouns made with a suffix (`fireman`, `ploughboy`): the suffixes.
    PersonSuffixes => "person_suffixes",
    /// Prefixes of hyphenated words that keep the cue after them (`half-drowned`).
    CuePrefixes => "cue_prefixes",
    /// Capitalized words that are never names (`Instead`, `However`).
    NotNames => "not_names",
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    cues: HashMap<CueKind, Vec<String>>,
    #[serde(default)]
    idioms_after: HashMap<String, Vec<Vec<String>>>,
    #[serde(default)]
    phrases: HashMap<PhraseKind, Vec<Vec<String>>>,
    lists: HashMap<String, toml::Value>,
}

/// The parsed, checked word lists.
#[derive(Debug)]
pub struct Lexicon {
    cues: HashMap<&'static str, CueKind>,
    lists: Vec<Vec<&'static str>>,
    sets: Vec<HashSet<&'static str>>,
    blood_idioms_after: Vec<Vec<&'static str>>,
    idioms_after: HashMap<&'static str, Vec<Vec<&'static str>>>,
    phrases: Vec<(PhraseKind, Vec<Slot>)>,
    listed: HashSet<&'static str>,
}

impl Lexicon {
    /// Parses and checks a lexicon file. Its strings are leaked: a lexicon lives for the
    /// whole process.
    ///
    /// # Errors
    /// [`Error::Lexicon`] naming the key: a TOML error, a missing or unknown list, a word listed
    /// twice, a cue of two kinds, an uppercase or empty word.
    pub fn parse(text: &str) -> Result<Lexicon> {
        let bad = |key: &str, reason: String| Error::Lexicon {
            key: key.into(),
            reason,
        };
        let file: File = toml::from_str(text).map_err(|e| bad("-", e.to_string()))?;
        let check_word = |field: &str, w: &str| {
            if w.is_empty() || w.trim() != w {
                Err(bad(field, format!("{w:?} is not a word")))
            } else if w.to_lowercase() != w {
                Err(bad(field, format!("{w:?} is not lowercase")))
            } else {
                Ok(())
            }
        };
        let words = |field: &str, v: &[String]| -> Result<Vec<&'static str>> {
            let mut seen = HashSet::new();
            let mut out = Vec::with_capacity(v.len());
            for w in v {
                check_word(field, w)?;
                if !seen.insert(w.as_str()) {
                    return Err(bad(field, format!("{w:?} is listed twice")));
                }
                out.push(&*w.clone().leak());
            }
            Ok(out)
        };
        let mut cues = HashMap::new();
        let mut kinds: Vec<_> = file.cues.into_iter().collect();
        kinds.sort_by_key(|(k, _)| format!("{k:?}"));
        for (kind, list) in &kinds {
            let field = format!("cues.{kind:?}");
            for w in words(&field, list)? {
                if let Some(other) = cues.insert(w, *kind) {
                    return Err(bad(
                        &field,
                        format!("{w:?} is already a cue of kind {other:?}"),
                    ));
                }
            }
        }
        let mut idioms_after = HashMap::new();
        let mut cues_with_idioms: Vec<_> = file.idioms_after.iter().collect();
        cues_with_idioms.sort();
        for (cue, phrases) in cues_with_idioms {
            let field = format!("idioms_after.{cue}");
            let Some((&cue, _)) = cues.get_key_value(cue.as_str()) else {
                return Err(bad(&field, format!("{cue:?} is not a cue")));
            };
            let mut seen = HashSet::new();
            let mut parsed = Vec::with_capacity(phrases.len());
            for phrase in phrases {
                if phrase.is_empty() || !seen.insert(phrase) {
                    return Err(bad(&field, format!("{phrase:?} is empty or listed twice")));
                }
                for w in phrase {
                    check_word(&field, w)?;
                }
                parsed.push(phrase.iter().map(|w| &*w.clone().leak()).collect());
            }
            idioms_after.insert(cue, parsed);
        }
        let mut phrases = Vec::new();
        let mut phrase_kinds: Vec<_> = file.phrases.into_iter().collect();
        phrase_kinds.sort_by_key(|(k, _)| format!("{k:?}"));
        for (kind, list) in phrase_kinds {
            let field = format!("phrases.{kind:?}");
            let mut seen = HashSet::new();
            for phrase in list {
                if phrase.is_empty() || !seen.insert(phrase.clone()) {
                    return Err(bad(&field, format!("{phrase:?} is empty or listed twice")));
                }
                let mut slots = Vec::with_capacity(phrase.len());
                for element in &phrase {
                    let slot = match element.as_str() {
                        "$poss" => Slot::Poss,
                        "$part" => Slot::Part,
                        "$being" => Slot::Being,
                        "$end" => Slot::End,
                        e if e.starts_with('$') => {
                            return Err(bad(&field, format!("{e:?} is no slot")));
                        }
                        e => {
                            let mut alternatives = Vec::new();
                            for w in e.split('|') {
                                check_word(&field, w)?;
                                alternatives.push(&*w.to_string().leak());
                            }
                            Slot::Words(alternatives)
                        }
                    };
                    slots.push(slot);
                }
                if matches!(slots.first(), Some(Slot::End)) {
                    return Err(bad(&field, format!("{phrase:?} must start with a word")));
                }
                phrases.push((kind, slots));
            }
        }
        let mut raw = file.lists;
        let idioms = raw
            .remove("blood_idioms_after")
            .ok_or_else(|| bad("lists.blood_idioms_after", "missing".into()))?;
        let idioms: Vec<Vec<String>> = idioms
            .try_into()
            .map_err(|e: toml::de::Error| bad("lists.blood_idioms_after", e.to_string()))?;
        let mut blood_idioms_after = Vec::new();
        for phrase in &idioms {
            if phrase.is_empty() {
                return Err(bad("lists.blood_idioms_after", "an empty phrase".into()));
            }
            blood_idioms_after.push(words("lists.blood_idioms_after", phrase)?);
        }
        let mut lists = Vec::with_capacity(List::ALL.len());
        for list in List::ALL {
            let field = format!("lists.{}", list.key());
            let value = raw
                .remove(list.key())
                .ok_or_else(|| bad(&field, "missing".into()))?;
            let v: Vec<String> = value
                .try_into()
                .map_err(|e: toml::de::Error| bad(&field, e.to_string()))?;
            if v.is_empty() {
                return Err(bad(&field, "empty".into()));
            }
            lists.push(words(&field, &v)?);
        }
        if let Some(unknown) = raw.keys().min() {
            return Err(bad(
                &format!("lists.{unknown}"),
                "no rule consults this list".into(),
            ));
        }
        let sets: Vec<HashSet<&'static str>> =
            lists.iter().map(|l| l.iter().copied().collect()).collect();
        let listed = sets
            .iter()
            .flatten()
            .copied()
            .chain(cues.keys().copied())
            .collect();
        Ok(Lexicon {
            cues,
            lists,
            sets,
            blood_idioms_after,
            idioms_after,
            phrases,
            listed,
        })
    }

    /// The words of `list`, in file order.
    pub fn words(&self, list: List) -> &[&'static str] {
        &self.lists[list as usize]
    }

    /// Whether `w` is in `list`.
    pub fn contains(&self, list: List, w: &str) -> bool {
        self.sets[list as usize].contains(w)
    }

    /// The cue kind of `w`, if it is a cue.
    pub fn cue_kind(&self, w: &str) -> Option<CueKind> {
        self.cues.get(w).copied()
    }

    /// Every cue and its kind.
    pub fn cues(&self) -> impl Iterator<Item = (&'static str, CueKind)> + '_ {
        self.cues.iter().map(|(w, k)| (*w, *k))
    }

    /// Phrases after `blood` that make it figurative (`ran cold`).
    pub fn blood_idioms_after(&self) -> &[Vec<&'static str>] {
        &self.blood_idioms_after
    }

    /// Phrases after the cue `cue` that make it figurative (`dead` `tired`, `dying` `to`).
    pub fn idioms_after(&self, cue: &str) -> &[Vec<&'static str>] {
        self.idioms_after.get(cue).map_or(&[], Vec::as_slice)
    }

    /// Multi-word phrases, in file order within each kind.
    pub fn phrases(&self) -> &[(PhraseKind, Vec<Slot>)] {
        &self.phrases
    }
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    // The embedded file is checked by this crate's tests; it cannot fail in a released build.
    Lexicon::parse(EMBEDDED).unwrap_or_else(|e| panic!("the embedded oracle lexicon: {e}"))
});

static VERSION: LazyLock<String> = LazyLock::new(|| {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(EMBEDDED.as_bytes());
    for code in RULE_CODE {
        h.update(code.as_bytes());
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// The lexicon compiled into the binary.
pub fn embedded() -> &'static Lexicon {
    &LEXICON
}

/// The oracle's version: 16 hex digits of a SHA-256 of the lexicon and the rule code. Any
/// change to either changes it.
pub fn version() -> &'static str {
    &VERSION
}

/// Whether `w` is in `list` of the embedded lexicon.
pub fn is_in(list: List, w: &str) -> bool {
    LEXICON.contains(list, w)
}

/// The words of `list` of the embedded lexicon.
pub fn words(list: List) -> &'static [&'static str] {
    LEXICON.words(list)
}

/// Whether `w` is in any list of the embedded lexicon or is a cue.
pub fn is_listed(w: &str) -> bool {
    LEXICON.listed.contains(w)
}

/// The cue kind of a word of the embedded lexicon, if it is a cue.
pub fn cue_kind(w: &str) -> Option<CueKind> {
    LEXICON.cue_kind(w)
}

/// Phrases after the cue `cue` that make it figurative, from the embedded lexicon.
pub fn idioms_after(cue: &str) -> &'static [Vec<&'static str>] {
    LEXICON.idioms_after(cue)
}

/// Multi-word phrases of the embedded lexicon.
pub fn phrases() -> &'static [(PhraseKind, Vec<Slot>)] {
    LEXICON.phrases()
}

/// Phrases after `blood` that make it figurative, from the embedded lexicon.
pub fn blood_idioms_after() -> &'static [Vec<&'static str>] {
    LEXICON.blood_idioms_after()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lexicon_passes_its_checks() {
        let lex = Lexicon::parse(EMBEDDED).unwrap();
        assert!(lex.cues().count() > 100);
        for list in List::ALL {
            assert!(!lex.words(*list).is_empty(), "{}", list.key());
        }
    }

    /// A lexicon error's key and reason.
    #[derive(Debug)]
    struct Named {
        field: String,
        message: String,
    }

    impl std::fmt::Display for Named {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.field, self.message)
        }
    }

    #[test]
    fn bad_lexicons_name_the_key() {
        let with = |from: &str, to: &str| {
            assert!(EMBEDDED.contains(from), "{from}");
            match Lexicon::parse(&EMBEDDED.replacen(from, to, 1)).unwrap_err() {
                Error::Lexicon { key, reason } => Named {
                    field: key,
                    message: reason,
                },
                other => panic!("{other}"),
            }
        };
        let e = with("people = [\n", "people = [\n    \"sailor\", \"sailor\",\n");
        assert_eq!(e.field, "lists.people");
        assert!(e.message.contains("twice"), "{e}");
        let e = with("people = [\n", "people = [\n    \"Sailor\",\n");
        assert!(e.message.contains("lowercase"), "{e}");
        let e = with("people = [", "peoples = [");
        assert_eq!(e.field, "lists.people");
        let e = with("[lists]\n", "[lists]\nvillains = [\"x\"]\n");
        assert_eq!(e.field, "lists.villains");
        let e = with("violent = [\n", "violent = [\n    \"wounded\",\n");
        assert!(e.message.contains("already a cue"), "{e}");
        let e = with("[cues]\n", "[cues]\nmenacing = [\"x\"]\n");
        assert_eq!(e.field, "-");
        let e = with("[idioms_after]\n", "[idioms_after]\nsailor = [[\"x\"]]\n");
        assert_eq!(e.field, "idioms_after.sailor");
        assert!(e.message.contains("not a cue"), "{e}");
        let e = with("idiom = [\n", "idiom = [\n    [\"$victim\", \"x\"],\n");
        assert_eq!(e.field, "phrases.Idiom");
        let e = with("idiom = [\n", "idiom = [\n    [\"$end\", \"x\"],\n");
        assert!(e.message.contains("start with a word"), "{e}");
    }

    #[test]
    fn version_is_stable_within_a_build() {
        assert_eq!(version(), version());
        assert!(version().chars().all(|c| c.is_ascii_hexdigit()));
    }
}
