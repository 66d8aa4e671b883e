//! The oracle's word lists. Every list is public so that the rules can be read in full.

/// How an injury cue word behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Injury cue words and their kind.
pub const CUES: &[(&str, CueKind)] = &[
    // Condition.
    ("wounded", CueKind::Condition),
    ("injured", CueKind::Condition),
    ("bleeding", CueKind::Condition),
    ("bled", CueKind::Condition),
    ("bleed", CueKind::Condition),
    ("bleeds", CueKind::Condition),
    ("bruised", CueKind::Condition),
    ("maimed", CueKind::Condition),
    ("mangled", CueKind::Condition),
    ("lacerated", CueKind::Condition),
    ("mutilated", CueKind::Condition),
    ("crippled", CueKind::Condition),
    ("concussed", CueKind::Condition),
    // Violent.
    ("stab", CueKind::Violent),
    ("stabbed", CueKind::Violent),
    ("stabbing", CueKind::Violent),
    ("shoot", CueKind::Violent),
    ("shot", CueKind::Violent),
    ("strike", CueKind::Violent),
    ("strikes", CueKind::Violent),
    ("struck", CueKind::Violent),
    ("stricken", CueKind::Violent),
    ("hit", CueKind::Violent),
    ("punch", CueKind::Violent),
    ("punched", CueKind::Violent),
    ("kick", CueKind::Violent),
    ("kicked", CueKind::Violent),
    ("beat", CueKind::Violent),
    ("beaten", CueKind::Violent),
    ("smote", CueKind::Violent),
    ("smite", CueKind::Violent),
    ("smitten", CueKind::Violent),
    ("slashed", CueKind::Violent),
    ("pierced", CueKind::Violent),
    ("impaled", CueKind::Violent),
    ("gored", CueKind::Violent),
    ("mauled", CueKind::Violent),
    ("whipped", CueKind::Violent),
    ("flogged", CueKind::Violent),
    ("clubbed", CueKind::Violent),
    ("crushed", CueKind::Violent),
    ("trampled", CueKind::Violent),
    ("speared", CueKind::Violent),
    ("harpooned", CueKind::Violent),
    ("lanced", CueKind::Violent),
    ("bayoneted", CueKind::Violent),
    ("clawed", CueKind::Violent),
    ("bit", CueKind::Violent),
    ("bite", CueKind::Violent),
    ("bitten", CueKind::Violent),
    ("wound", CueKind::Violent),
    ("wounding", CueKind::Violent),
    ("injure", CueKind::Violent),
    ("injures", CueKind::Violent),
    ("injuring", CueKind::Violent),
    ("tortured", CueKind::Violent),
    ("burned", CueKind::Violent),
    ("burnt", CueKind::Violent),
    ("scorched", CueKind::Violent),
    ("scalded", CueKind::Violent),
    ("seared", CueKind::Violent),
    ("cut", CueKind::Violent),
    ("stung", CueKind::Violent),
    ("slash", CueKind::Violent),
    ("pierce", CueKind::Violent),
    ("impale", CueKind::Violent),
    ("gore", CueKind::Violent),
    ("maul", CueKind::Violent),
    ("whip", CueKind::Violent),
    ("flog", CueKind::Violent),
    ("club", CueKind::Violent),
    ("crush", CueKind::Violent),
    ("trample", CueKind::Violent),
    ("spear", CueKind::Violent),
    ("harpoon", CueKind::Violent),
    ("lance", CueKind::Violent),
    ("claw", CueKind::Violent),
    ("burn", CueKind::Violent),
    ("scorch", CueKind::Violent),
    ("scald", CueKind::Violent),
    ("sting", CueKind::Violent),
    // Body part only.
    ("break", CueKind::BodyPart),
    ("breaks", CueKind::BodyPart),
    ("broke", CueKind::BodyPart),
    ("broken", CueKind::BodyPart),
    ("snapped", CueKind::BodyPart),
    ("cracked", CueKind::BodyPart),
    ("fractured", CueKind::BodyPart),
    ("sprained", CueKind::BodyPart),
    ("twisted", CueKind::BodyPart),
    ("dislocated", CueKind::BodyPart),
    ("tore", CueKind::BodyPart),
    ("torn", CueKind::BodyPart),
    ("grazed", CueKind::BodyPart),
    ("gashed", CueKind::BodyPart),
    ("snap", CueKind::BodyPart),
    ("crack", CueKind::BodyPart),
    ("sprain", CueKind::BodyPart),
    ("twist", CueKind::BodyPart),
    ("dislocate", CueKind::BodyPart),
    ("tear", CueKind::BodyPart),
    ("graze", CueKind::BodyPart),
    // Lethal.
    ("kill", CueKind::Lethal),
    ("kills", CueKind::Lethal),
    ("killed", CueKind::Lethal),
    ("killing", CueKind::Lethal),
    ("slay", CueKind::Lethal),
    ("slew", CueKind::Lethal),
    ("slain", CueKind::Lethal),
    ("murder", CueKind::Lethal),
    ("murdered", CueKind::Lethal),
    ("butchered", CueKind::Lethal),
    ("slaughtered", CueKind::Lethal),
    ("massacred", CueKind::Lethal),
    ("assassinated", CueKind::Lethal),
    ("strangled", CueKind::Lethal),
    ("throttled", CueKind::Lethal),
    ("drowned", CueKind::Lethal),
    ("beheaded", CueKind::Lethal),
    ("hanged", CueKind::Lethal),
    ("slays", CueKind::Lethal),
    ("murders", CueKind::Lethal),
    ("butcher", CueKind::Lethal),
    ("slaughter", CueKind::Lethal),
    ("massacre", CueKind::Lethal),
    ("strangle", CueKind::Lethal),
    ("throttle", CueKind::Lethal),
    ("drown", CueKind::Lethal),
    ("behead", CueKind::Lethal),
    // Nouns.
    ("wounds", CueKind::Noun),
    ("injury", CueKind::Noun),
    ("injuries", CueKind::Noun),
    ("gash", CueKind::Noun),
    ("gashes", CueKind::Noun),
    ("bruise", CueKind::Noun),
    ("bruises", CueKind::Noun),
    ("fracture", CueKind::Noun),
    ("laceration", CueKind::Noun),
    ("lacerations", CueKind::Noun),
    // Hurt.
    ("hurt", CueKind::Hurt),
    ("hurts", CueKind::Hurt),
    ("hurting", CueKind::Hurt),
    // Blood.
    ("blood", CueKind::Blood),
    ("bloody", CueKind::Blood),
    ("bloodied", CueKind::Blood),
    ("bloodstained", CueKind::Blood),
    ("blood-stained", CueKind::Blood),
];

/// Verbs whose intransitive subject is the victim (`he bled`, `the man drowned`).
pub const SUBJECT_VICTIM_VERBS: &[&str] = &["bled", "bleed", "bleeds", "bleeding", "drowned"];

/// Pronouns that denote a being as an object.
pub const OBJECT_PRONOUNS: &[&str] = &[
    "him", "me", "us", "them", "you", "thee", "ye", "himself", "herself", "myself",
    "ourselves", "yourself", "yourselves", "themselves", "whom",
];

/// Pronouns that denote a being as a subject.
pub const SUBJECT_PRONOUNS: &[&str] = &["he", "she", "i", "we", "they", "you", "thou", "ye", "who"];

/// Pronouns that deny a victim (`no one was hurt`, `struck nobody`).
pub const NEGATIVE_PRONOUNS: &[&str] = &["nobody", "none", "noone", "nothing", "neither", "nor"];

/// Possessive determiners of beings.
pub const POSSESSIVES: &[&str] = &["his", "her", "my", "your", "our", "their", "thy"];

/// People.
pub const PEOPLE: &[&str] = &[
    "man", "men", "woman", "women", "boy", "boys", "girl", "girls", "child", "children", "baby",
    "infant", "lad", "lads", "lass", "gentleman", "gentlemen", "lady", "ladies", "fellow",
    "fellows", "person", "persons", "people", "soul", "souls", "sailor", "sailors", "seaman",
    "seamen", "mate", "mates", "captain", "officer", "officers", "soldier", "soldiers",
    "trooper", "troopers", "guard", "guards", "servant", "servants", "maid", "master",
    "mistress", "father", "mother", "brother", "brothers", "sister", "sisters", "son", "sons",
    "daughter", "daughters", "husband", "wife", "uncle", "aunt", "cousin", "friend", "friends",
    "stranger", "strangers", "enemy", "enemies", "foe", "foes", "convict", "convicts",
    "prisoner", "prisoners", "thief", "robber", "savage", "savages", "native", "natives",
    "harpooneer", "harpooneers", "harpooner", "boatswain", "steward", "cook", "crew",
    "doctor", "surgeon", "priest", "parson", "curate", "king", "queen", "prince", "princess",
    "knight", "warrior", "warriors", "hunter", "hunters", "driver", "rider", "coachman",
    "boatman", "fisherman", "fishermen", "villager", "villagers", "farmer", "smith",
    "blacksmith", "clerk", "lawyer", "colonel", "general", "lieutenant", "sergeant",
    "corporal", "artilleryman", "lord", "victim", "victims", "wretch", "creature", "creatures",
    "beings", "human", "humans", "mortal", "orphan", "widow", "nurse",
    "pilot", "gunner", "gunners", "marine", "marines", "horseman", "passenger", "passengers",
    "neighbour", "neighbor", "companion", "comrade", "comrades", "fugitive", "fugitives",
    "refugee", "refugees", "crowd", "mob", "assailant", "attacker", "murderer", "keeper",
    "landlord", "nephew", "niece", "grandfather", "grandmother", "mr", "mrs", "miss",
    "sir", "madam", "dr", "professor", "student", "pupil", "teacher", "sheriff", "constable",
    "policeman", "policemen", "harpooneers", "whaleman", "whalemen", "oarsman", "oarsmen",
    "helmsman", "lookout", "cabin-boy", "someone", "somebody", "anyone", "anybody",
    "everyone", "everybody", "martian", "martians",
];

/// Animals (sentient beings that are not people).
pub const ANIMALS: &[&str] = &[
    "dog", "dogs", "hound", "hounds", "cat", "cats", "horse", "horses", "pony", "mare",
    "stallion", "colt", "cow", "cows", "ox", "oxen", "bull", "sheep", "lamb", "pig", "goat",
    "deer", "stag", "wolf", "wolves", "bear", "lion", "tiger", "fox", "rabbit", "hare",
    "bird", "birds", "fowl", "hen", "duck", "goose", "whale", "whales", "shark", "sharks",
    "dolphin", "porpoise", "seal", "seals", "fish", "beast", "beasts", "animal", "animals",
    "monkey", "ape", "rat", "rats", "mouse", "snake", "serpent", "elephant", "cachalot",
    "calf", "leviathan", "walrus", "dugong", "octopus", "turtle", "gull", "albatross",
    "eagle", "mule", "donkey", "ass", "puppy", "kitten", "squirrel", "otter", "crab",
];

/// Things that cannot be injured: objects, and the non-sentient look-alikes the labeling
/// rules name (skeletons, robots, statues).
pub const OBJECTS: &[&str] = &[
    "skeleton", "skeletons", "robot", "robots", "automaton", "machine", "machines", "statue",
    "statues", "doll", "dolls", "puppet", "dummy", "effigy", "mannequin", "scarecrow",
    "corpse", "corpses", "carcass", "table", "chair", "door", "window", "windows", "glass",
    "cup", "plate", "plates", "bottle", "vase", "box", "wall", "walls", "ship", "ships",
    "boat", "boats", "vessel", "mast", "sail", "rope", "tree", "trees", "branch", "rock",
    "rocks", "stone", "stones", "wood", "plank", "lock", "chain", "clock", "watch", "lamp",
    "candle", "letter", "paper", "book", "fire", "match", "bell", "gong", "drum", "key",
    "ground", "earth", "water", "sea", "wave", "waves", "iron", "anvil", "nail", "hull",
    "deck", "oar", "oars", "engine", "tripod", "tripods", "cylinder", "house", "roof",
    "tower", "church", "bridge", "carriage", "cart", "wheel", "pot", "kettle", "pipe", "stick",
    "log", "ice", "egg", "eggs", "fence", "gate", "rail", "line", "spade", "sword", "knife",
    "gun", "pistol", "harpoon", "lance", "spear", "axe", "hammer", "shell", "shells", "bread",
    "meat", "pen", "seal-skin", "sword-blade", "blade", "bow", "arrow", "string", "thread",
    "branch", "twig", "bough", "trunk", "mirror", "pane", "jar", "pitcher", "jug", "dish",
    "bowl", "basket", "barrel", "cask", "flask", "lid", "handle", "post", "pillar", "beam",
    "bolt", "screw", "spring", "spoke", "shaft", "toy", "toys", "idol", "image", "bust",
    "armour", "armor", "helmet", "shield", "coat", "cloth", "sheet", "rag", "bones",
];

/// Body parts (of a being, unless a thing owns them).
pub const BODY_PARTS: &[&str] = &[
    "arm", "arms", "leg", "legs", "head", "face", "hand", "hands", "finger", "fingers", "thumb",
    "shoulder", "shoulders", "chest", "breast", "side", "throat", "neck", "eye", "eyes",
    "foot", "feet", "knee", "knees", "back", "skull", "rib", "ribs", "cheek", "cheeks",
    "forehead", "brow", "wrist", "wrists", "ankle", "ankles", "flesh", "skin", "jaw", "nose",
    "mouth", "tooth", "teeth", "ear", "ears", "temple", "spine", "hip", "thigh", "shin",
    "heel", "toe", "toes", "elbow", "fist", "belly", "stomach", "bone", "limb", "limbs",
    "body", "scalp", "collarbone", "nostril", "flank", "fin", "fluke", "flukes", "tail",
    "wing", "wings", "paw", "paws", "hoof", "snout", "muzzle", "lip", "lips", "tongue",
    "hump", "loins", "vitals", "lungs", "lung", "liver", "bowels", "veins", "vein", "artery",
];

/// Body parts whose biting or cutting is a gesture, not an injury (`bit her lip`).
pub const GESTURE_PARTS: &[&str] = &["lip", "lips", "tongue", "nails"];

/// Abstract nouns: objects of a violent verb that make it figurative (`wounded her pride`,
/// `struck by her beauty`, `crushed by the news`).
pub const ABSTRACT: &[&str] = &[
    "pride", "vanity", "feelings", "feeling", "heart", "spirit", "spirits", "dignity",
    "self-love", "self-esteem", "honour", "honor", "reputation", "sensibilities", "delicacy",
    "mind", "conscience", "beauty", "thought", "thoughts", "idea", "ideas",
    "notion", "news", "words", "word", "remark", "grief", "sorrow", "disappointment", "shame",
    "remorse", "horror", "terror", "fear", "wonder", "awe", "amazement", "astonishment",
    "surprise", "curiosity", "admiration", "pity", "love", "jealousy", "despair", "doubt",
    "conviction", "sight", "spectacle", "appearance", "resemblance", "manner", "change",
    "silence", "fact", "truth", "recollection", "memory", "reflection", "contrast",
    "likeness", "coincidence", "look", "tone", "expression", "kindness", "cruelty",
    "neglect", "indifference", "coldness", "sense", "emotion", "anger", "rage", "passion",
    "guilt", "loss", "failure", "misfortune", "party", "interest", "interests", "cause",
    "hopes", "hope", "sorrows", "glance", "bargain", "attitude", "note", "chord", "balance",
    "path", "way", "camp", "tent", "effect", "impression", "air", "record", "spell", "bond", "bonds", "promise", "promises",
    "law", "laws", "peace", "day", "dawn", "ranks", "fast", "journey", "voice", "blow",
];

/// Words that, right after a violent verb and its object, make it an idiom
/// (`struck him as odd`, `cut him short`, `beat him at chess`).
pub const IDIOM_AFTER_OBJECT: &[&str] = &[
    "as", "that", "how", "forcibly", "short", "off", "dead", "out", "at", "down-hearted",
    "dumb", "silent", "speechless", "motionless",
];

/// Determiners and other words skipped when looking for a victim.
pub const SKIPPABLE: &[&str] = &[
    "the", "a", "an", "this", "that", "these", "those", "one", "two", "three", "several",
    "some", "many", "all", "both", "each", "every", "another", "other", "poor", "old", "young",
    "little", "big", "great", "unfortunate", "wretched", "brave", "huge", "large", "small",
    "black", "white", "first", "last", "same", "very", "own", "whole", "left", "right",
    "unhappy", "luckless", "helpless", "dear", "good", "bad", "fat", "thin", "tall", "short",
    "mad", "dying", "dead", "unlucky", "nearest", "other's", "its",
];

/// Prepositions and particles: a victim search to the right stops here.
pub const PREPOSITIONS: &[&str] = &[
    "in", "on", "at", "with", "by", "from", "to", "into", "of", "upon", "over", "under",
    "through", "across", "against", "for", "about", "out", "off", "up", "down", "away",
    "back", "past", "along", "round", "around", "forward", "ahead", "onto", "towards",
    "toward", "like", "behind", "beneath", "between", "among", "after", "before", "near",
];

/// Auxiliaries and fillers skipped when walking left from a verb to its modal, negator or
/// subject (`would not have been`, `was badly`).
pub const VERB_FILLERS: &[&str] = &[
    "have", "has", "had", "be", "been", "being", "to", "also", "even", "then", "soon",
    "rather", "get", "got", "gets", "getting", "was", "were", "is", "are", "am", "do", "does",
    "did", "all", "both", "just", "nearly", "almost", "quite", "so", "too", "very", "much",
    "still", "again", "once", "thus", "there", "as", "well",
];

/// Verbs that make a following participle passive (`was struck`, `lay wounded`).
pub const PASSIVE_AUX: &[&str] = &[
    "was", "were", "is", "are", "am", "be", "been", "being", "got", "get", "gets", "getting",
    "lay", "lie", "lies", "lying", "fell", "seemed", "appeared", "looked", "became", "remained",
    "left", "found",
];

/// Negators: a cue in their scope is negated.
pub const NEGATORS: &[&str] = &[
    "not", "never", "no", "nobody", "none", "nothing", "neither", "nor", "without", "hardly",
    "scarcely", "noone",
];

/// Avoidance words: a cue in their scope was avoided (`nearly killed`, `narrowly escaped
/// being shot`).
pub const AVOIDERS: &[&str] = &[
    "nearly", "almost", "narrowly", "avoided", "avoid", "avoiding", "escaped", "escape",
    "escaping", "missed", "miss", "missing", "dodged", "dodge", "evaded", "spared", "saved",
    "prevented", "prevent", "stopped",
];

/// Modal, threat and intention words: a cue in their scope did not (yet) happen.
pub const HYPOTHETICALS: &[&str] = &[
    "would", "could", "might", "may", "shall", "should", "will", "must", "can", "threatened",
    "threaten", "threatens", "threatening", "going", "about", "ready", "want", "wants",
    "wanted", "meant", "mean", "means", "intended", "intend", "intends", "tried", "try",
    "tries", "trying", "attempted", "attempt", "attempting", "wish", "wished", "hoped",
    "hope", "swore", "swear", "vowed", "vow", "promised", "planned", "plan", "dare",
    "dared", "longed", "determined", "resolved", "let", "lest", "ought", "imagined",
    "fancied", "dreamed", "dreamt", "than", "fain",
];

/// Clause openers that make everything after them in the clause hypothetical.
pub const HYPOTHETICAL_OPENERS: &[&str] = &["if", "unless", "lest", "whether", "suppose", "supposing"];

/// Words that say nobody was hurt.
pub const UNHARMED: &[&str] = &["unhurt", "unharmed", "uninjured", "unwounded", "unscathed"];

/// Physical qualifiers that make `hurt` physical (`badly hurt`).
pub const PHYSICAL_QUALIFIERS: &[&str] = &[
    "badly", "seriously", "severely", "mortally", "fatally", "grievously", "dangerously",
    "critically", "gravely", "slightly",
];

/// Verbs of flowing that make `blood` an injury when it comes from someone.
pub const BLOOD_FLOW: &[&str] = &[
    "flowed", "flowing", "flows", "streamed", "streaming", "poured", "pouring", "gushed",
    "gushing", "spurted", "spurting", "trickled", "trickling", "ran", "running", "oozed",
    "oozing", "dripped", "dripping", "welled", "welling", "spouted", "spouting", "came",
    "coming", "spilt", "spilled", "shed", "drew", "drawn",
];

/// Phrases in which `blood` is figurative (matched on the words after `blood`).
pub const BLOOD_IDIOMS_AFTER: &[&[&str]] = &[
    &["ran", "cold"],
    &["run", "cold"],
    &["boiled"],
    &["boil"],
    &["rushed", "to"],
    &["rushed", "into"],
    &["mounted", "to"],
    &["rose"],
    &["relation"],
    &["relations"],
    &["relative"],
    &["red"],
    &["froze"],
    &["curdled"],
    &["quickened"],
];

/// Words before `blood` that make it figurative (`in cold blood`, `flesh and blood`).
pub const BLOOD_IDIOMS_BEFORE: &[&str] = &["cold", "and", "blue", "young", "bad", "royal", "noble", "hot"];

/// Look-up helpers.
pub fn is_in(list: &[&str], w: &str) -> bool {
    list.contains(&w)
}

/// The cue kind of a word, if it is a cue.
pub fn cue_kind(w: &str) -> Option<CueKind> {
    CUES.iter().find(|(c, _)| *c == w).map(|&(_, k)| k)
}
