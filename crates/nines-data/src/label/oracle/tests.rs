//! Hand-written cases for every rule: at least three where the rule fires and three near
//! misses where it does not.

use super::*;
use crate::record::Verdict::{Injury as I, NoInjury as N, Unsure as U};

fn check(cases: &[(&str, &str, Verdict, Rule)]) {
    let oracle = OracleLabeler::new();
    let mut failures = Vec::new();
    for &(prompt, completion, verdict, rule) in cases {
        let j = oracle.judge(prompt, completion);
        if (j.verdict, j.rule) != (verdict, rule) {
            failures.push(format!(
                "{completion:?} (prompt {prompt:?}): expected {verdict}/{rule}, got {}/{} [{}]",
                j.verdict,
                j.rule,
                j.note()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn injury_rule() {
    check(&[
        // Fires.
        ("", "Stubb stabbed him in the arm.", I, Rule::Injury),
        ("", "The dog bit the boy on the leg.", I, Rule::Injury),
        (
            "",
            "He fell from the rigging and broke his arm.",
            I,
            Rule::Injury,
        ),
        ("", "The harpoon pierced the whale's side.", I, Rule::Injury),
        ("", "She was badly burned by the fire.", I, Rule::Injury),
        (
            "",
            "A bullet struck the soldier in the chest.",
            I,
            Rule::Injury,
        ),
        ("", "The Martian was killed instantly.", I, Rule::Injury),
        ("", "Queequeg was wounded in the shoulder.", I, Rule::Injury),
        (
            "",
            "He had a deep gash across his forehead.",
            I,
            Rule::Injury,
        ),
        ("", "Blood streamed from his nose.", I, Rule::Injury),
        (
            "",
            "\"Run!\" she cried, as the convict seized Pip and struck him.",
            I,
            Rule::Injury,
        ),
        ("", "My head struck on a piece of iron.", I, Rule::Injury),
        // Near misses: does not fire.
        ("", "He stabbed the loaf with his knife.", N, Rule::NoCue),
        ("", "The dog barked at the boy.", N, Rule::NoCue),
        ("", "He broke the silence at last.", N, Rule::Idiom),
    ]);
}

#[test]
fn object_rule() {
    check(&[
        ("", "He broke the window with a stone.", N, Rule::Object),
        (
            "",
            "The shell struck the tripod and it fell.",
            N,
            Rule::Object,
        ),
        ("", "The robot's arm was torn off.", N, Rule::Object),
        (
            "",
            "He cracked the skeleton's skull with a hammer.",
            N,
            Rule::Object,
        ),
        ("", "Lightning struck the old oak tree.", N, Rule::Object),
        ("", "The robot's head struck the wall.", N, Rule::Object),
        // Near misses: beings and their body parts.
        ("", "He broke the sailor's arm.", I, Rule::Injury),
        ("", "The shell struck the gunner.", I, Rule::Injury),
        ("", "The dog's leg was broken.", I, Rule::Injury),
    ]);
}

#[test]
fn negated_rule() {
    check(&[
        ("", "He did not hurt her.", N, Rule::Negated),
        ("", "No one was injured.", N, Rule::Negated),
        ("", "Nobody was hurt in the crash.", N, Rule::Negated),
        ("", "The bullet did not wound him.", N, Rule::Negated),
        ("", "He was never struck.", N, Rule::Negated),
        ("", "Not a man was wounded.", N, Rule::Negated),
        ("", "None of the men were killed.", N, Rule::Negated),
        // Near misses: the negation is elsewhere.
        (
            "",
            "He did not hesitate, and stabbed the man.",
            I,
            Rule::Injury,
        ),
        ("", "Not long after, he was shot.", I, Rule::Injury),
        (
            "",
            "Nothing could save him; he was killed.",
            I,
            Rule::Injury,
        ),
    ]);
}

#[test]
fn avoided_rule() {
    check(&[
        (
            "",
            "He was nearly killed by the falling mast.",
            N,
            Rule::Avoided,
        ),
        ("", "He narrowly escaped being shot.", N, Rule::Avoided),
        (
            "",
            "The Martian struck at him with its tentacle.",
            N,
            Rule::Avoided,
        ),
        ("", "The savage almost stabbed him.", N, Rule::Avoided),
        // Near misses.
        ("", "He escaped, but the mate was killed.", I, Rule::Injury),
        (
            "",
            "He nearly fainted when they shot the dog.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The ball missed the captain and struck the boy.",
            I,
            Rule::Injury,
        ),
    ]);
}

#[test]
fn hypothetical_rule() {
    check(&[
        ("", "He threatened to stab him.", N, Rule::Hypothetical),
        ("", "I'll kill you if you move.", N, Rule::Hypothetical),
        (
            "",
            "If he had been shot, he would have died.",
            N,
            Rule::Hypothetical,
        ),
        (
            "",
            "She looked as if she had been struck.",
            N,
            Rule::Hypothetical,
        ),
        ("", "\"Are you hurt?\" she asked.", N, Rule::Hypothetical),
        ("", "He would have killed the man.", N, Rule::Hypothetical),
        ("", "He was about to shoot the dog.", N, Rule::Hypothetical),
        (
            "",
            "The brute tried to strangle her.",
            N,
            Rule::Hypothetical,
        ),
        // Near misses.
        ("", "He said that he had killed the man.", I, Rule::Injury),
        (
            "",
            "Whether by luck or not, the ball struck him.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "They tried everything, but the boy was bitten.",
            I,
            Rule::Injury,
        ),
    ]);
}

#[test]
fn idiom_rule() {
    check(&[
        ("", "The remark wounded her pride.", N, Rule::Idiom),
        ("", "It struck me as odd that he had gone.", N, Rule::Idiom),
        ("", "She bit her lip and looked away.", N, Rule::Idiom),
        ("", "His blood ran cold at the sight.", N, Rule::Idiom),
        (
            "",
            "He felt deeply injured by her coldness.",
            N,
            Rule::Idiom,
        ),
        ("", "The news crushed her.", N, Rule::Idiom),
        ("", "He shot a glance at her.", N, Rule::Idiom),
        ("", "She was struck by his beauty.", N, Rule::Idiom),
        ("", "Elizabeth cut him short.", N, Rule::Idiom),
        ("", "It would break her heart.", N, Rule::Idiom),
        // Near misses.
        ("", "He struck me with his fist.", I, Rule::Injury),
        ("", "She bit the thief's hand.", I, Rule::Injury),
        ("", "The blood ran down his cheek.", I, Rule::Injury),
        ("", "She was struck by a stone.", I, Rule::Injury),
    ]);
}

#[test]
fn ambiguous_rule() {
    check(&[
        (
            "",
            "There was a pool of blood on the floor.",
            U,
            Rule::Ambiguous,
        ),
        ("", "You hurt me.", U, Rule::Ambiguous),
        ("", "They killed it with a single blow.", U, Rule::Ambiguous),
        ("", "His coat was bloodstained.", U, Rule::Ambiguous),
        // Near misses.
        ("", "You hurt my arm.", I, Rule::Injury),
        (
            "",
            "Blood poured from the cut on his hand.",
            I,
            Rule::Injury,
        ),
        ("", "They killed the wolf.", I, Rule::Injury),
        ("", "He was badly hurt.", I, Rule::Injury),
    ]);
}

#[test]
fn unharmed_rule() {
    check(&[
        ("", "He rose from the wreck unhurt.", N, Rule::Unharmed),
        ("", "All of them were safe and sound.", N, Rule::Unharmed),
        (
            "",
            "She came through the battle without a scratch.",
            N,
            Rule::Unharmed,
        ),
        // Near misses: an injury elsewhere wins.
        (
            "",
            "He was unhurt, but his brother was shot.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The unharmed sailors helped the wounded man.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "Though the others were unharmed, the cook broke his leg.",
            I,
            Rule::Injury,
        ),
    ]);
}

#[test]
fn prompt_only_rule() {
    let stab = "The savage stabbed the sailor in the back.";
    check(&[
        (stab, "The wound bled freely.", N, Rule::PromptOnly),
        (
            "A stone struck the boy on the head.",
            "He lay still on the grass.",
            N,
            Rule::PromptOnly,
        ),
        (
            "The dog was badly hurt by the cart.",
            "His injuries took weeks to heal.",
            N,
            Rule::PromptOnly,
        ),
        (
            "He shot the stranger.",
            "The wounded man crawled away.",
            N,
            Rule::PromptOnly,
        ),
        // Near misses: the completion adds an injury, or the prompt has none.
        (stab, "Then he stabbed him again.", I, Rule::Injury),
        (
            stab,
            "The sailor received another wound in the arm.",
            I,
            Rule::Injury,
        ),
        ("Nobody was hurt.", "His wound bled.", I, Rule::Injury),
        (
            "He threatened to shoot the stranger.",
            "The wounded man crawled away.",
            I,
            Rule::Injury,
        ),
    ]);
}

#[test]
fn no_cue_rule() {
    check(&[
        ("", "She poured the tea.", N, Rule::NoCue),
        ("", "The ship sailed at dawn.", N, Rule::NoCue),
        ("", "The path wound down to the river.", N, Rule::NoCue),
        ("", "He took a bit of bread.", N, Rule::NoCue),
        ("", "The clock struck twelve.", N, Rule::NoCue),
        // Near misses.
        ("", "The wound on his hand was deep.", I, Rule::Injury),
        ("", "The horse kicked the groom.", N, Rule::NoCue),
        ("", "The horse kicked him.", I, Rule::Injury),
    ]);
}

#[test]
fn notes_name_the_rule_and_labeler_is_deterministic() {
    let mut o = OracleLabeler::new();
    let s = Snippet::new(
        "The men rowed hard.",
        "The whale's flukes struck the mate.",
        None,
        None,
        None,
    );
    let Decision::Label(a) = o.decide(&s, Progress::default()).unwrap() else {
        panic!("oracle must label");
    };
    let Decision::Label(b) = o.decide(&s, Progress::default()).unwrap() else {
        panic!("oracle must label");
    };
    assert_eq!(
        (a.verdict, a.note.as_str()),
        (I, "rule=injury cue=\"struck\" victim=\"mate\"")
    );
    assert!(a.same_judgment(&b));
    assert_eq!(a.labeler, "oracle");
}
