use super::*;
use crate::record::Verdict;

fn snip(i: usize) -> Snippet {
    Snippet::new(
        format!("prompt {i}"),
        format!("completion {i}"),
        None,
        None,
        None,
    )
}

#[test]
fn append_get_iter_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let mut store = Store::open(&path).unwrap();
    let r = store.append((0..5).map(snip)).unwrap();
    assert_eq!(r.added, 5);
    let id = snip(2).id;
    assert!(
        store
            .upsert_label(&id, Label::now("a", Verdict::Injury, "n"))
            .unwrap()
    );
    assert!(
        !store
            .upsert_label(&id, Label::now("a", Verdict::Injury, "n"))
            .unwrap()
    );
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.len(), 5);
    assert_eq!(store.open_report().versions, 1);
    let ids: Vec<_> = store.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, (0..5).map(|i| snip(i).id).collect::<Vec<_>>());
    assert_eq!(store.get(&id).unwrap().labels.len(), 1);
}

#[test]
fn reimport_is_idempotent_and_dedups_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let mut store = Store::open(&path).unwrap();
    store.append((0..3).map(snip)).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let r = store.append((0..3).map(snip)).unwrap();
    assert_eq!((r.added, r.unchanged), (0, 3));
    let mut renamed = snip(1);
    renamed.id = "other-id".into();
    let r = store.append(vec![renamed]).unwrap();
    assert_eq!(r.added, 0);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    assert_eq!(store.len(), 3);
}

#[test]
fn duplicate_id_with_other_content_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let mut store = Store::open(&path).unwrap();
    store.append(vec![snip(0)]).unwrap();
    let mut clash = snip(1);
    clash.id = snip(0).id;
    assert!(matches!(
        store.append(vec![snip(5), clash]),
        Err(Error::DuplicateId { .. })
    ));
    assert_eq!(store.len(), 1, "a rejected batch writes nothing");
    drop(store);
    // Also when reading a file.
    let mut text = std::fs::read_to_string(&path).unwrap();
    let mut c = snip(1);
    c.id = snip(0).id;
    text.push_str(&serde_json::to_string(&c).unwrap());
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    match Store::open(&path) {
        Err(Error::DuplicateId {
            first_line, line, ..
        }) => assert_eq!((first_line, line), (1, 2)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_lines_strict_and_lenient() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let good = serde_json::to_string(&snip(0)).unwrap();
    let unknown = good.replace(
        "\"labels\":[]",
        "\"labels\":[{\"labeler\":\"a\",\"verdict\":\"maybe\",\"time\":\"t\"}]",
    );
    std::fs::write(&path, format!("{good}\n{{not json\n{unknown}\n")).unwrap();
    match Store::open(&path) {
        Err(Error::BadLine { line, reason, .. }) => {
            assert_eq!(line, 2);
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(&path, format!("{good}\n{unknown}\n")).unwrap();
    match Store::open(&path) {
        Err(Error::UnknownVerdict { at, value }) => {
            assert!(at.ends_with("s.jsonl:2"), "{at}");
            assert_eq!(value, "maybe");
        }
        other => panic!("{other:?}"),
    }
    let mut bytes = format!("{good}\n{{not json\n{unknown}\n").into_bytes();
    bytes.extend_from_slice(b"\xff\n");
    std::fs::write(&path, bytes).unwrap();
    let store = Store::open_with(&path, StoreOptions { lenient: true }).unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(store.open_report().bad_lines, 3);
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let mut store = Store::open(&path).unwrap();
    store.append((0..3).map(snip)).unwrap();
    drop(store);
    let line = serde_json::to_string(&snip(3)).unwrap();
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
    drop(f);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(store.open_report().torn_tail_bytes, (line.len() / 2) as u64);
    store.append(vec![snip(4)]).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.len(), 4);
    assert_eq!(store.open_report().torn_tail_bytes, 0);
}

#[test]
fn a_cut_tail_is_kept_in_the_quarantine_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let mut store = Store::open(&path).unwrap();
    store.append((0..2).map(snip)).unwrap();
    drop(store);
    let before = std::fs::read(&path).unwrap();
    // A complete line of the wrong schema, without its newline: someone's data.
    let wrong = br#"{"id": "x", "text": "not a snippet"}"#;
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(wrong).unwrap();
    drop(f);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.len(), 2);
    let report = store.open_report().clone();
    let tail = report.invalid_tail.expect("reported as invalid, not torn");
    assert_eq!((tail.line, tail.bytes), (3, wrong.len() as u64));
    assert_eq!(report.torn_tail_bytes, 0);
    let q = quarantine_path(&path);
    assert_eq!(report.quarantine.as_deref(), Some(q.as_path()));
    assert_eq!(std::fs::read(&q).unwrap(), [&wrong[..], b"\n"].concat());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A torn write is set aside too, appended after the first.
    let line = serde_json::to_string(&snip(7)).unwrap();
    let torn = &line.as_bytes()[..line.len() / 3];
    store.append(vec![snip(2)]).unwrap();
    drop(store);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(torn).unwrap();
    drop(f);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(store.open_report().torn_tail_bytes, torn.len() as u64);
    assert!(store.open_report().invalid_tail.is_none());
    assert_eq!(
        std::fs::read(&q).unwrap(),
        [&wrong[..], b"\n", torn, b"\n"].concat()
    );
}

#[test]
fn a_byte_order_mark_is_accepted_by_every_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let lines: Vec<String> = (0..2)
        .map(|i| serde_json::to_string(&snip(i)).unwrap())
        .collect();
    let mut bytes = BYTE_ORDER_MARK.to_vec();
    bytes.extend(format!("{}\n{}\n", lines[0], lines[1]).into_bytes());
    std::fs::write(&path, &bytes).unwrap();
    for lenient in [false, true] {
        let store = Store::open_read_only(&path, StoreOptions { lenient }).unwrap();
        assert_eq!(store.len(), 2, "read-only, lenient {lenient}");
        assert!(store.open_report().byte_order_mark);
        assert_eq!(store.open_report().bad_lines, 0);
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.len(), 2);
    store.append(vec![snip(2)]).unwrap();
    drop(store);
    assert_eq!(Store::open(&path).unwrap().len(), 3);
    assert!(std::fs::read(&path).unwrap().starts_with(BYTE_ORDER_MARK));
}

#[test]
fn complete_last_line_without_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    std::fs::write(&path, serde_json::to_string(&snip(0)).unwrap()).unwrap();
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.len(), 1);
    store.append(vec![snip(1)]).unwrap();
    drop(store);
    assert_eq!(Store::open(&path).unwrap().len(), 2);
}

#[test]
fn one_writer_at_a_time_and_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let mut store = Store::open(&path).unwrap();
    assert!(matches!(Store::open(&path), Err(Error::Locked { .. })));
    store.append((0..4).map(snip)).unwrap();
    for v in [Verdict::Injury, Verdict::NoInjury, Verdict::Unsure] {
        store
            .upsert_label(&snip(0).id, Label::now("a", v, ""))
            .unwrap();
    }
    assert!(store.remove_label(&snip(0).id, "a").unwrap().is_some());
    store.compact().unwrap();
    store.append(vec![snip(9)]).unwrap();
    drop(store);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 5);
    let ro = Store::open_read_only(&path, StoreOptions::default()).unwrap();
    assert_eq!(ro.len(), 5);
    assert!(ro.get(&snip(0).id).unwrap().labels.is_empty());
    assert!(matches!(
        Store::open_read_only(dir.path().join("missing.jsonl"), StoreOptions::default()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn unknown_id_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("s.jsonl")).unwrap();
    assert!(matches!(
        store.upsert_label("nope", Label::now("a", Verdict::Injury, "")),
        Err(Error::UnknownId { .. })
    ));
}
