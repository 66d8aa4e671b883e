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
        ("", "The horse kicked the groom.", I, Rule::Injury),
        ("", "The horse kicked the straw about.", N, Rule::NoCue),
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

#[test]
fn death_phrases() {
    check(&[
        // Fires.
        ("", "He breathed his last before dawn.", I, Rule::Injury),
        ("", "Her brother lost his life at Badajoz.", I, Rule::Injury),
        (
            "",
            "The boy had fallen in action off Cadiz.",
            I,
            Rule::Injury,
        ),
        ("", "She took the draught and never woke.", I, Rule::Injury),
        (
            "",
            "He went under and did not come up again.",
            I,
            Rule::Injury,
        ),
        ("", "The old man passed away in the night.", I, Rule::Injury),
        ("", "He met his death on the ice.", I, Rule::Injury),
        // Near misses: the same words of time and things, negated or wished.
        (
            "",
            "Four weeks passed away, and Jane heard nothing.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "She smiled at him as she passed away down the street.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "He would have lost his life but for the dog.",
            N,
            Rule::Hypothetical,
        ),
        ("", "He never woke his sister at night.", N, Rule::NoCue),
    ]);
}

#[test]
fn to_death() {
    check(&[
        // Fires.
        (
            "",
            "They found him in the porch, frozen to death.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The driver and fireman were crushed to death in the wreck.",
            I,
            Rule::Injury,
        ),
        ("", "The mob stoned the thief to death.", I, Rule::Injury),
        (
            "",
            "The traitors were put to death at dawn.",
            I,
            Rule::Injury,
        ),
        // Near misses: feelings, and death without an owner.
        (
            "",
            "Kitty swore she had been frightened to death.",
            N,
            Rule::Idiom,
        ),
        (
            "",
            "His questions bored the villagers to death.",
            N,
            Rule::Idiom,
        ),
        (
            "",
            "He spoke calmly of death and the grave.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "He was sentenced to death, and the town waited.",
            N,
            Rule::NoCue,
        ),
    ]);
}

#[test]
fn injury_phrases_name_the_wound() {
    check(&[
        // Fires.
        (
            "",
            "A trooper cut one of them down, laying his cheek open.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "He tumbled down the ladder with a bullet in his chest.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The iron caught the boy and laid it open to the bone.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "He came down on the cobbles and put his shoulder out.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The bull caught him on its horns and tossed him over the hedge.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "Her skirts caught fire before the nurse could reach her.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "He had knocked his brother senseless with a spade.",
            I,
            Rule::Injury,
        ),
        // Near misses.
        ("", "He put his head out of the window.", N, Rule::NoCue),
        (
            "",
            "The knife in his hand caught the light.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "The fire caught the dry thatch at once.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "She killed two birds with one stone and came home early.",
            N,
            Rule::Idiom,
        ),
        (
            "",
            "The Aged cried that the bang would wake the dead.",
            N,
            Rule::Idiom,
        ),
        (
            "",
            "Every line of the letter struck her to the heart.",
            N,
            Rule::Idiom,
        ),
    ]);
}

#[test]
fn poisoning_needs_a_poison_and_a_sign() {
    check(&[
        // Fires.
        (
            "",
            "It was full of arsenic, and he was taken with violent pains.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The meat was tainted, and every man was sickened by it.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "She had been dosed with antimony for a month.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "They drank their fill, and by evening lay groaning by the road, sick with the foul water.",
            I,
            Rule::Injury,
        ),
        // Near misses.
        (
            "",
            "He drank his laudanum as usual and slept till noon.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "There being nothing to eat, he teased his sick brother.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "She ate her dinner, though she was ill at ease.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "He said the cake was poison to a weak stomach.",
            N,
            Rule::NoCue,
        ),
    ]);
}

#[test]
fn constriction_of_a_throat_or_neck() {
    check(&[
        // Fires.
        (
            "",
            "He got his fingers about the watchman's throat and squeezed.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The bolt was drawn, and the rope tightened about his neck.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "He got his forearm across the miller's throat and pressed hard.",
            I,
            Rule::Injury,
        ),
        // Near misses.
        (
            "",
            "She flung her arms round his neck and held him tight.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "He was washing his hands and gargling his throat.",
            N,
            Rule::NoCue,
        ),
        (
            "",
            "The rope was put about his neck, but the pardon came.",
            N,
            Rule::NoCue,
        ),
    ]);
}

#[test]
fn wider_victims_and_safer_grammar() {
    check(&[
        // Fires: person nouns by suffix and plural, objects of "one of", complements.
        (
            "",
            "The fireman was scalded by the bursting pipe.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The smugglers were shot down on the beach.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The woman found him murdered in his bed.",
            I,
            Rule::Injury,
        ),
        (
            "",
            "The driver was dragged down and torn by the wolves.",
            I,
            Rule::Injury,
        ),
        ("", "He was hanged at Newgate on Monday.", I, Rule::Injury),
        (
            "",
            "The boy was under the ice and half-drowned before they reached him.",
            I,
            Rule::Injury,
        ),
        // Near misses: adjectives, time, things, abstract subjects and fever.
        (
            "The boy had broken his arm.",
            "He set the broken arm between two splints.",
            N,
            Rule::PromptOnly,
        ),
        ("", "There was a dead lull upon the sea.", N, Rule::NoCue),
        (
            "",
            "The suspense was killing her, she declared.",
            N,
            Rule::Idiom,
        ),
        ("", "She was mortally offended by it.", N, Rule::Idiom),
        (
            "",
            "The butcher cut a leg of mutton for him.",
            N,
            Rule::Object,
        ),
        (
            "",
            "The panic-stricken crowd swayed for a moment.",
            N,
            Rule::NoCue,
        ),
        ("", "I lay burning and tossing on my bed.", N, Rule::NoCue),
        ("", "And I succumbed to his conviction.", N, Rule::Idiom),
        (
            "",
            "It snapped at the heels of the smallest child.",
            N,
            Rule::Avoided,
        ),
    ]);
}
