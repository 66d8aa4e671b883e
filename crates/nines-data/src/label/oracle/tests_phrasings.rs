//! Hand-written cases for the wider phrasings of explicit injuries and the safer grammar
//! around them: for each, at least three where it fires and three near misses where it does
//! not.

use super::*;
use crate::record::Verdict::{Injury as I, NoInjury as N};

fn check(cases: &[(&str, Verdict, Rule)]) {
    let oracle = OracleLabeler::new();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|&(completion, verdict, rule)| {
            let j = oracle.judge("", completion);
            ((j.verdict, j.rule) != (verdict, rule)).then(|| {
                format!(
                    "{completion:?}: expected {verdict}/{rule}, got {}/{} [{}]",
                    j.verdict,
                    j.rule,
                    j.note()
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn deaths_in_other_words() {
    check(&[
        // Fires.
        ("He lingered a week and then passed away.", I, Rule::Injury),
        (
            "The surgeon could do nothing, and the boy passed away.",
            I,
            Rule::Injury,
        ),
        ("She expired an hour later.", I, Rule::Injury),
        ("The old man expired the same evening.", I, Rule::Injury),
        ("The old squire was no more.", I, Rule::Injury),
        ("He breathed no more.", I, Rule::Injury),
        ("Her heart stopped beating before dawn.", I, Rule::Injury),
        ("The life went out of him with a sigh.", I, Rule::Injury),
        ("He departed this life on Tuesday.", I, Rule::Injury),
        ("The prisoner was executed at dawn.", I, Rule::Injury),
        (
            "The cholera carried off the schoolmaster and his wife.",
            I,
            Rule::Injury,
        ),
        (
            "The fever took the little boy off in a week.",
            I,
            Rule::Injury,
        ),
        ("Their bodies were never recovered.", I, Rule::Injury),
        ("His body was found at the sluice.", I, Rule::Injury),
        ("Her corpse was washed ashore at Deal.", I, Rule::Injury),
        (
            "The others were found the next day, frozen and lifeless beneath the snow.",
            I,
            Rule::Injury,
        ),
        // Near misses: time, things, abstract subjects.
        ("The hour passed away.", N, Rule::NoCue),
        ("The lease expired an hour later.", N, Rule::Idiom),
        ("The candle expired at midnight.", N, Rule::Object),
        ("The old custom was no more.", N, Rule::NoCue),
        ("The house was no more than a hut.", N, Rule::NoCue),
        (
            "Her heart stopped for a moment when she saw him.",
            N,
            Rule::NoCue,
        ),
        (
            "The life went out of the party when he left.",
            N,
            Rule::NoCue,
        ),
        ("The order was executed at once.", N, Rule::NoCue),
        ("The servant carried off the tea-things.", N, Rule::NoCue),
        (
            "It carried off the first prize at the show.",
            N,
            Rule::NoCue,
        ),
        ("His body was tired after the march.", N, Rule::NoCue),
        ("Her body was never still.", N, Rule::NoCue),
        ("The statue's body was found in the mud.", N, Rule::NoCue),
        ("The day was dead and cold.", N, Rule::Idiom),
        ("The evening was still and lifeless.", N, Rule::Idiom),
    ]);
}

#[test]
fn lost_at_sea_and_sinking() {
    check(&[
        // Fires.
        ("The mate was lost at sea in the gale.", I, Rule::Injury),
        (
            "Two of the crew were lost overboard in the night.",
            I,
            Rule::Injury,
        ),
        (
            "The brig's crew were lost with all hands off Ushant.",
            I,
            Rule::Injury,
        ),
        (
            "The boy sank beneath the waves and was seen no more.",
            I,
            Rule::Injury,
        ),
        (
            "The fugitive sank beneath the surface of the river.",
            I,
            Rule::Injury,
        ),
        ("She went down and never rose again.", I, Rule::Injury),
        (
            "They dragged her out with water in her lungs.",
            I,
            Rule::Injury,
        ),
        (
            "He came round coughing, with brine in his throat.",
            I,
            Rule::Injury,
        ),
        (
            "The current sucked him under before they could reach him.",
            I,
            Rule::Injury,
        ),
        // Near misses.
        ("He lost his way at sea.", N, Rule::NoCue),
        ("He was lost in thought.", N, Rule::NoCue),
        ("The sun sank beneath the waves.", N, Rule::NoCue),
        ("The wreck sank beneath the waves.", N, Rule::NoCue),
        ("The sun never rose again for him.", N, Rule::NoCue),
        ("He had water in his boots.", N, Rule::NoCue),
        ("She poured water in his cup.", N, Rule::NoCue),
    ]);
}

#[test]
fn weapons_and_blows_in_other_words() {
    check(&[
        // Fires.
        (
            "The dragoon ran him through with his sabre.",
            I,
            Rule::Injury,
        ),
        (
            "The sentry was run through the body by a pike.",
            I,
            Rule::Injury,
        ),
        (
            "A shot rang out and the sentry dropped where he stood.",
            I,
            Rule::Injury,
        ),
        (
            "At the second volley the colonel dropped where he sat.",
            I,
            Rule::Injury,
        ),
        ("The club came down upon his head.", I, Rule::Injury),
        ("He laid the man low with a single blow.", I, Rule::Injury),
        ("He took a sabre cut across the shoulder.", I, Rule::Injury),
        (
            "The first man through the door caught the blade across the forearm.",
            I,
            Rule::Injury,
        ),
        ("He brained the thief with a poker.", I, Rule::Injury),
        ("He thrashed the boy with a stick.", I, Rule::Injury),
        ("The shot blew off his hand.", I, Rule::Injury),
        ("The blow broke his skull to pieces.", I, Rule::Injury),
        // Near misses.
        ("The river ran through the meadow.", N, Rule::NoCue),
        ("He ran his eye through the letter twice.", N, Rule::NoCue),
        ("Her hand came down upon his shoulder.", N, Rule::NoCue),
        ("The axe fell upon the block.", N, Rule::NoCue),
        ("He took her hand across the table.", N, Rule::NoCue),
        ("She caught his glance across the room.", N, Rule::NoCue),
        ("He bit off the end of his cigar.", N, Rule::NoCue),
    ]);
}

#[test]
fn falls_fractures_and_bones() {
    check(&[
        // Fires.
        ("The barrel crushed the bones of his foot.", I, Rule::Injury),
        ("The fall broke the bones of his wrist.", I, Rule::Injury),
        ("He heard the bone crack as he fell.", I, Rule::Injury),
        ("His leg snapped under him.", I, Rule::Injury),
        ("Her wrist cracked as she landed.", I, Rule::Injury),
        ("Several had limbs broken.", I, Rule::Injury),
        ("Three of the men had legs broken.", I, Rule::Injury),
        (
            "He slipped on the ice and came down hard on his hip.",
            I,
            Rule::Injury,
        ),
        // Near misses.
        ("They found the bones of the ancient king.", N, Rule::NoCue),
        ("The bones of the mammoth were broken.", N, Rule::NoCue),
        ("His knuckles cracked.", N, Rule::Idiom),
        ("The ice cracked under his foot.", N, Rule::NoCue),
        (
            "They fitted their feet into the cracks of the pavement.",
            N,
            Rule::NoCue,
        ),
        (
            "The doll came out with its arm snapped off.",
            N,
            Rule::NoCue,
        ),
        ("The chairs had legs broken.", N, Rule::NoCue),
        ("He had broken his promise.", N, Rule::Idiom),
        ("He sat down heavily on his chair.", N, Rule::NoCue),
    ]);
}

#[test]
fn burns_bites_and_poisons_in_other_words() {
    check(&[
        // Fires.
        ("The flames caught her skirts.", I, Rule::Injury),
        ("His clothes were set alight.", I, Rule::Injury),
        ("Her sleeve caught alight at the candle.", I, Rule::Injury),
        (
            "The acid ran over his hands, eating into the flesh.",
            I,
            Rule::Injury,
        ),
        ("The wolf's teeth closed upon his arm.", I, Rule::Injury),
        ("Its jaws closed on the boy's leg.", I, Rule::Injury),
        ("The dog fastened its teeth in his calf.", I, Rule::Injury),
        (
            "His cup was laced with poison, and he fell senseless.",
            I,
            Rule::Injury,
        ),
        (
            "She took laudanum and lay insensible till noon.",
            I,
            Rule::Injury,
        ),
        (
            "Within a year the painter had the lead colic.",
            I,
            Rule::Injury,
        ),
        // Near misses.
        ("The sparks caught the curtains.", N, Rule::NoCue),
        ("Her hair caught the light.", N, Rule::NoCue),
        ("Her teeth closed upon her lip.", N, Rule::NoCue),
        ("Weal or woe, he felt uncompromised.", N, Rule::NoCue),
        (
            "His back was covered in weals from the lash.",
            I,
            Rule::Injury,
        ),
        ("His jaws closed on his pipe.", N, Rule::NoCue),
        ("The dog fastened its eyes on his face.", N, Rule::NoCue),
        ("He drank until he fell senseless.", N, Rule::NoCue),
        (
            "She ate her supper and fell insensible with sleep.",
            N,
            Rule::NoCue,
        ),
        ("He took the lead in the dance.", N, Rule::NoCue),
        ("The lead pencil broke.", N, Rule::NoCue),
    ]);
}

#[test]
fn coordinated_passives_and_victims_found_further() {
    check(&[
        // Fires.
        (
            "Those who had not reached the water were struck down and killed.",
            I,
            Rule::Injury,
        ),
        (
            "The guards were knocked down and trampled.",
            I,
            Rule::Injury,
        ),
        ("The horses were cut down and killed.", I, Rule::Injury),
        ("The wolves tore him to pieces.", I, Rule::Injury),
        ("The hounds tore the fox to pieces.", I, Rule::Injury),
        ("The smoke suffocated the sleeping family.", I, Rule::Injury),
        ("The schoolmaster was killed by the fall.", I, Rule::Injury),
        ("The gatekeeper was shot.", I, Rule::Injury),
        ("The locksmith was wounded.", I, Rule::Injury),
        // Near misses.
        (
            "The sailors struck down the flag and killed the lights.",
            N,
            Rule::Idiom,
        ),
        (
            "The men knocked down the door and smashed the windows.",
            N,
            Rule::Object,
        ),
        ("She tore the letter to pieces.", N, Rule::Object),
        ("She tore him from her arms.", N, Rule::Idiom),
        ("The schoolmaster killed time.", N, Rule::Idiom),
        ("The gatekeeper shot the bolt.", N, Rule::Object),
        ("The locksmith cut a key.", N, Rule::Object),
    ]);
}

#[test]
fn effigies_things_and_figurative_instruments() {
    check(&[
        // Fires: figurative only with words; the same verbs with weapons and flesh.
        (
            "Mr. Jaggers cut him to ribbons with a dozen quiet questions.",
            N,
            Rule::Idiom,
        ),
        ("He struck her with a jest.", N, Rule::Idiom),
        ("She wounded him with a cruel remark.", N, Rule::Idiom),
        ("Maria had cut her dead in the street.", N, Rule::Idiom),
        ("Lady Catherine cut them dead at church.", N, Rule::Idiom),
        ("She shot him a glance of reproach.", N, Rule::Idiom),
        ("Darcy shot Elizabeth a look of amusement.", N, Rule::Idiom),
        ("He shot her a look of warning.", N, Rule::Idiom),
        ("He was bled white by the lawyers.", N, Rule::Idiom),
        ("The estate was bled dry by his sons.", N, Rule::Idiom),
        (
            "The old family was bled dry by the lawsuit.",
            N,
            Rule::Idiom,
        ),
        (
            "Lord Nelson's wax head was crushed and his arm snapped off.",
            N,
            Rule::Object,
        ),
        (
            "The marble hand was broken and his nose was smashed.",
            N,
            Rule::Object,
        ),
        (
            "The labourer smashed the skull to fragments.",
            N,
            Rule::Object,
        ),
        ("Its skull fell and was smashed to pieces.", N, Rule::Object),
        ("The baby seized it and bit its head off.", N, Rule::Object),
        (
            "They shot its legs from under it, and the machine toppled.",
            N,
            Rule::Object,
        ),
        // Near misses: real injuries beside the same words.
        ("He struck her with his stick.", I, Rule::Injury),
        ("She wounded him with a knife.", I, Rule::Injury),
        ("He cut him with a sabre.", I, Rule::Injury),
        ("She shot him through the arm.", I, Rule::Injury),
        ("The keeper shot the poacher in the leg.", I, Rule::Injury),
        ("He bled white and fainted from the wound.", I, Rule::Injury),
        ("He bled freely from the nose.", I, Rule::Injury),
        ("The wax candle burnt his hand.", I, Rule::Injury),
        ("The stone struck his head.", I, Rule::Injury),
        ("He smashed his skull.", I, Rule::Injury),
        ("The sabre cut the man's arm to the bone.", I, Rule::Injury),
        (
            "The wolf seized the lamb and bit its throat.",
            I,
            Rule::Injury,
        ),
        ("The horse fell and broke its leg.", I, Rule::Injury),
    ]);
}

#[test]
fn her_before_a_noun_no_list_knows_is_a_possessive() {
    check(&[
        // Fires: a possessive, so no victim.
        ("He cut her hair.", N, Rule::NoCue),
        (
            "He went home and burnt every one of her letters.",
            N,
            Rule::NoCue,
        ),
        ("She stabbed her needle into the cushion.", N, Rule::NoCue),
        // Near misses: "her" is the object.
        ("He struck her down.", I, Rule::Injury),
        ("He stabbed her twice.", I, Rule::Injury),
        ("He shot her dead.", I, Rule::Injury),
        ("The dog bit her savagely.", I, Rule::Injury),
    ]);
}
