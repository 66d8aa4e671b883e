//! Loading fiction: UTF-8 text files, normalized and stripped to the story.
//!
//! A [`Document`] is one text file. Loading it
//! 1. checks UTF-8 ([`Error::InvalidUtf8`] names the byte and line),
//! 2. normalizes: drops a leading byte-order mark and turns CRLF (and lone CR) line ends into LF,
//! 3. strips a Project Gutenberg header (up to a `*** START OF THE/THIS PROJECT GUTENBERG ...`
//!    line) and footer (from an `End of (the) Project Gutenberg` or `*** END OF ...` line),
//! 4. strips front matter (title page, transcriber's notes, contents): when one of the first
//!    chapter headings within the first quarter of the text opens a chapter of real prose, the
//!    story starts at that heading.
//!
//! The remaining *body* is what [`crate::segment`] cuts into sentences. Offsets inside the body
//! map back to byte offsets of the original file with [`Document::raw_range`], so every
//! passage can be found in the file as it is on disk.

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::segment::{self, SegmentKind};

/// What [`Document`] loading removed from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stripped {
    /// A byte-order mark was dropped.
    pub bom: bool,
    /// Number of CR bytes dropped or turned into LF.
    pub carriage_returns: usize,
    /// Bytes of Project Gutenberg header dropped (normalized text).
    pub gutenberg_header: usize,
    /// Bytes of Project Gutenberg footer dropped (normalized text).
    pub gutenberg_footer: usize,
    /// Bytes of front matter dropped before the first chapter (normalized text).
    pub front_matter: usize,
}

/// One text of the corpus, normalized, with its story body located.
#[derive(Debug, Clone)]
pub struct Document {
    id: String,
    path: Option<PathBuf>,
    text: String,
    body: Range<usize>,
    /// Normalized offsets at which one raw byte was dropped (one entry per byte, ascending).
    dropped: Vec<usize>,
    stripped: Stripped,
}

impl Document {
    /// Loads one file; its id is its file stem.
    pub fn load(path: impl AsRef<Path>) -> Result<Document> {
        let path = path.as_ref();
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Document::from_bytes(id, &bytes, Some(path))
    }

    /// Builds a document from the raw bytes of a file.
    ///
    /// `path` is only used in error messages and kept for reference.
    pub fn from_bytes(
        id: impl Into<String>,
        bytes: &[u8],
        path: Option<&Path>,
    ) -> Result<Document> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let offset = e.valid_up_to();
            let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
            Error::InvalidUtf8 {
                path: path.map_or_else(|| PathBuf::from("<memory>"), Path::to_path_buf),
                offset,
                line,
            }
        })?;
        Ok(Document::from_text(id, text, path))
    }

    /// Builds a document from text already in memory (normalized and stripped like a file).
    pub fn from_text(id: impl Into<String>, raw: &str, path: Option<&Path>) -> Document {
        let mut stripped = Stripped::default();
        let mut dropped = Vec::new();
        let mut text = String::with_capacity(raw.len());
        let mut rest = raw;
        if let Some(r) = rest.strip_prefix('\u{FEFF}') {
            stripped.bom = true;
            dropped.extend([0; 3]);
            rest = r;
        }
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\r' {
                stripped.carriage_returns += 1;
                if chars.peek() == Some(&'\n') {
                    dropped.push(text.len());
                } else {
                    text.push('\n');
                }
            } else {
                text.push(c);
            }
        }
        let (body, header, footer) = gutenberg_body(&text);
        stripped.gutenberg_header = header;
        stripped.gutenberg_footer = footer;
        let front = front_matter_len(&text[body.clone()]);
        stripped.front_matter = front;
        Document {
            id: id.into(),
            path: path.map(Path::to_path_buf),
            body: body.start + front..body.end,
            text,
            dropped,
            stripped,
        }
    }

    /// The document id (file stem, or relative path without extension inside a folder corpus).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The file this document was loaded from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The story text: normalized, without Gutenberg header, footer and front matter.
    pub fn body(&self) -> &str {
        &self.text[self.body.clone()]
    }

    /// The whole normalized text (BOM dropped, LF line ends), header and footer included.
    pub fn normalized_text(&self) -> &str {
        &self.text
    }

    /// Where the body lies in [`Document::normalized_text`].
    pub fn body_range(&self) -> Range<usize> {
        self.body.clone()
    }

    /// What loading removed.
    pub fn stripped(&self) -> &Stripped {
        &self.stripped
    }

    /// Maps a byte range of [`Document::body`] to the byte range of the same text in the
    /// original file (before BOM and CR removal).
    pub fn raw_range(&self, body_range: Range<usize>) -> Range<u64> {
        let start = self.body.start + body_range.start;
        let end = self.body.start + body_range.end;
        let before_start = self.dropped.partition_point(|&p| p <= start);
        let before_end = self.dropped.partition_point(|&p| p < end);
        (start + before_start) as u64..(end + before_end) as u64
    }
}

fn line_spans(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n').map(move |line| {
        let r = offset..offset + line.len();
        offset += line.len();
        (r, line)
    })
}

fn is_gutenberg_start(line: &str) -> bool {
    let u = line.trim().to_uppercase();
    (u.starts_with("***") || u.starts_with("*END*THE SMALL PRINT"))
        && (u.contains("START OF THE PROJECT GUTENBERG")
            || u.contains("START OF THIS PROJECT GUTENBERG")
            || u.contains("SMALL PRINT"))
}

fn is_gutenberg_end(line: &str) -> bool {
    let u = line.trim().to_uppercase();
    u.starts_with("END OF THE PROJECT GUTENBERG")
        || u.starts_with("END OF PROJECT GUTENBERG")
        || (u.starts_with("***")
            && (u.contains("END OF THE PROJECT GUTENBERG")
                || u.contains("END OF THIS PROJECT GUTENBERG")))
}

/// The body range after Gutenberg header/footer removal, and the header and footer sizes.
fn gutenberg_body(text: &str) -> (Range<usize>, usize, usize) {
    let mut start = 0;
    for (r, line) in line_spans(text) {
        if is_gutenberg_start(line) {
            start = r.end;
            break;
        }
    }
    let mut end = text.len();
    for (r, line) in line_spans(&text[start..]) {
        if is_gutenberg_end(line) {
            end = start + r.start;
            break;
        }
    }
    (start..end, start, text.len() - end)
}

/// Bytes of front matter at the start of `body`: everything before the first chapter heading
/// (within the first quarter) that is followed by at least 500 bytes of prose before the next
/// chapter heading. Zero when there is no such heading.
fn front_matter_len(body: &str) -> usize {
    let limit = body.len() / 4;
    let paras = segment::paragraphs(body);
    let kinds: Vec<Option<SegmentKind>> = paras
        .iter()
        .map(|r| segment::heading_kind(&body[r.clone()]))
        .collect();
    for (i, r) in paras.iter().enumerate() {
        if r.start > limit {
            break;
        }
        if kinds[i] != Some(SegmentKind::ChapterHeading) {
            continue;
        }
        let mut prose = 0;
        for (j, r2) in paras.iter().enumerate().skip(i + 1) {
            match kinds[j] {
                Some(SegmentKind::ChapterHeading) => break,
                Some(_) => {}
                None => prose += r2.len(),
            }
            if prose >= 500 {
                return r.start;
            }
        }
    }
    0
}

/// A set of documents, in a stable order (sorted by path when loaded from a folder).
#[derive(Debug, Clone)]
pub struct Corpus {
    documents: Vec<Document>,
}

impl Corpus {
    /// Loads a file, or every `*.txt` file under a folder (recursively, sorted by path).
    ///
    /// Inside a folder a document's id is its path relative to the folder without the `.txt`
    /// extension, with `/` separators. Fails with [`Error::EmptyCorpus`] when no file has a
    /// non-empty body, and with [`Error::InvalidUtf8`] on the first file that is not UTF-8.
    pub fn load(path: impl AsRef<Path>) -> Result<Corpus> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let documents = if meta.is_dir() {
            let mut files = Vec::new();
            collect_txt(path, &mut files)?;
            files.sort();
            if files.is_empty() {
                return Err(Error::EmptyCorpus {
                    path: path.to_path_buf(),
                    reason: "no .txt files in the folder".into(),
                });
            }
            let mut docs = Vec::with_capacity(files.len());
            for f in files {
                let mut doc = Document::load(&f)?;
                if let Ok(rel) = f.strip_prefix(path) {
                    let rel = rel.with_extension("");
                    doc.id = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                }
                docs.push(doc);
            }
            docs
        } else {
            vec![Document::load(path)?]
        };
        Corpus::from_documents(documents).map_err(|e| match e {
            Error::EmptyCorpus { reason, .. } => Error::EmptyCorpus {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })
    }

    /// A corpus of the given documents; documents whose body is empty (only whitespace) are
    /// dropped, and none left is [`Error::EmptyCorpus`].
    pub fn from_documents(documents: Vec<Document>) -> Result<Corpus> {
        let documents: Vec<Document> = documents
            .into_iter()
            .filter(|d| !d.body().trim().is_empty())
            .collect();
        if documents.is_empty() {
            return Err(Error::EmptyCorpus {
                path: PathBuf::from("<documents>"),
                reason: "no document has any text".into(),
            });
        }
        Ok(Corpus { documents })
    }

    /// The documents.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// The document with this id.
    pub fn get(&self, id: &str) -> Option<&Document> {
        self.documents.iter().find(|d| d.id == id)
    }

    /// The folder of the default corpus shipped with the repository (`data/corpus`).
    pub fn default_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/corpus")
    }
}

fn collect_txt(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(|e| Error::io(&p, e))?;
        if ft.is_dir() {
            collect_txt(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("txt")) {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUTENBERG: &str = "\u{FEFF}The Project Gutenberg EBook of Test\r\n\r\n\
*** START OF THIS PROJECT GUTENBERG EBOOK TEST ***\r\n\r\nProduced by someone\r\n\r\n\
Call me Ishmael. Some years ago I went to sea.\r\n\r\n\
End of Project Gutenberg's Test\r\n\r\n*** END OF THIS PROJECT GUTENBERG EBOOK TEST ***\r\nlicence\r\n";

    #[test]
    fn strips_bom_crlf_header_and_footer() {
        let doc =
            Document::from_bytes("t", GUTENBERG.as_bytes(), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(doc.stripped().bom);
        assert!(doc.stripped().carriage_returns > 5);
        assert!(!doc.body().contains('\r'));
        assert!(!doc.body().contains("START OF"));
        assert!(!doc.body().contains("End of Project"));
        assert!(!doc.body().contains("licence"));
        assert!(doc.body().contains("Call me Ishmael."));
    }

    #[test]
    fn raw_range_points_into_the_original_bytes() {
        let doc =
            Document::from_bytes("t", GUTENBERG.as_bytes(), None).unwrap_or_else(|e| panic!("{e}"));
        let body = doc.body();
        for needle in [
            "Call me Ishmael.",
            "Some years ago I went to sea.",
            "Produced by someone",
        ] {
            let s = body
                .find(needle)
                .unwrap_or_else(|| panic!("{needle} missing"));
            let raw = doc.raw_range(s..s + needle.len());
            let bytes = &GUTENBERG.as_bytes()[raw.start as usize..raw.end as usize];
            assert_eq!(bytes, needle.as_bytes());
        }
        // A range spanning a CRLF maps to the CRLF bytes.
        let s = body.find("Produced").unwrap_or(0);
        let e = body.find("Call").unwrap_or(0) + 4;
        let raw = doc.raw_range(s..e);
        let got = &GUTENBERG[raw.start as usize..raw.end as usize];
        assert_eq!(got, "Produced by someone\r\n\r\nCall");
    }

    #[test]
    fn front_matter_is_stripped_before_first_real_chapter() {
        let prose = "It was a dark night and the wind blew. ".repeat(20);
        let text = format!(
            "MY BOOK\n\nby Somebody\n\nContents\n\nChapter I\n\nChapter II\n\n\
Chapter I\n\n{prose}\n\nChapter II\n\n{prose}\n\n{prose}\n\n{prose}\n\n{prose}\n"
        );
        let doc = Document::from_text("t", &text, None);
        assert!(
            doc.body().starts_with("Chapter I\n\nIt was"),
            "{:?}",
            &doc.body()[..40]
        );
        assert!(doc.stripped().front_matter > 0);
    }

    #[test]
    fn no_chapters_keeps_everything() {
        let doc = Document::from_text("t", "A short story. It ends.\n", None);
        assert_eq!(doc.body(), "A short story. It ends.\n");
    }

    #[test]
    fn empty_corpora_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        match Corpus::load(dir.path()) {
            Err(Error::EmptyCorpus { path, reason }) => {
                assert_eq!(path, dir.path());
                assert!(reason.contains("no .txt"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(dir.path().join("blank.txt"), " \r\n\n\t").unwrap();
        assert!(matches!(
            Corpus::load(dir.path()),
            Err(Error::EmptyCorpus { .. })
        ));
        assert!(matches!(
            Corpus::load(dir.path().join("blank.txt")),
            Err(Error::EmptyCorpus { .. })
        ));
        assert!(matches!(
            Corpus::load(dir.path().join("missing.txt")),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn folder_ids_are_relative_paths_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.txt"), "Bee.").unwrap();
        std::fs::write(dir.path().join("sub").join("a.TXT"), "Ay.").unwrap();
        std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
        std::fs::write(dir.path().join("empty.txt"), "").unwrap();
        let corpus = Corpus::load(dir.path()).unwrap();
        let ids: Vec<_> = corpus.documents().iter().map(Document::id).collect();
        assert_eq!(ids, ["b", "sub/a"]);
        assert_eq!(corpus.get("sub/a").map(Document::body), Some("Ay."));
        // A bad file in a folder is named.
        std::fs::write(dir.path().join("c.txt"), b"ok \xc3").unwrap();
        match Corpus::load(dir.path()) {
            Err(Error::InvalidUtf8 { path, offset, .. }) => {
                assert!(path.ends_with("c.txt"));
                assert_eq!(offset, 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_utf8_names_byte_and_line() {
        let bytes = b"line one\nline two \xff\xfe\n";
        match Document::from_bytes("t", bytes, Some(Path::new("bad.txt"))) {
            Err(Error::InvalidUtf8 { offset, line, path }) => {
                assert_eq!((offset, line), (18, 2));
                assert_eq!(path, PathBuf::from("bad.txt"));
            }
            other => panic!("expected InvalidUtf8, got {other:?}"),
        }
    }
}
