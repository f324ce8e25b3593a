//! `--split`: cutting a text that is too long for its accounts into a thread
//! at sentence boundaries (then at words, then, for a word longer than a post,
//! between characters), and `--number`: "1/3" at the end of each part.

use unicode_segmentation::UnicodeSegmentation;

/// What `--number` may add to a part, reserved while splitting.
const NUMBER_ROOM: &str = " 99/99";

/// Cuts `text` into as few parts as fit, in order, each as long as `fits`
/// allows; a text that fits stays one part. With `numbered`, room is left for
/// the number each part gets.
pub fn split_to_fit(text: &str, numbered: bool, fits: &dyn Fn(&str) -> bool) -> Vec<String> {
    let room = |t: &str| if numbered { fits(&format!("{t}{NUMBER_ROOM}")) } else { fits(t) };
    let mut out = Vec::new();
    let mut cur = String::new();
    pack(text, 0, &room, &mut cur, &mut out);
    flush(&mut cur, &mut out);
    out
}

/// Numbers the parts of a thread: "text 1/3". A single post stays as it is.
pub fn number(parts: Vec<String>) -> Vec<String> {
    let n = parts.len();
    if n < 2 {
        return parts;
    }
    parts.into_iter().enumerate().map(|(i, p)| format!("{p} {}/{n}", i + 1)).collect()
}

/// Adds `text`'s units (sentences, words, characters by `level`) to the part
/// being built while they fit, starting a new part when one does not.
fn pack(text: &str, level: u8, fits: &dyn Fn(&str) -> bool, cur: &mut String, out: &mut Vec<String>) {
    let units: Vec<&str> = match level {
        0 => sentences(text),
        1 => text.split_inclusive(char::is_whitespace).collect(),
        _ => text.graphemes(true).collect(),
    };
    for unit in units {
        let joined = format!("{cur}{unit}");
        if fits(joined.trim()) {
            *cur = joined;
            continue;
        }
        flush(cur, out);
        if level >= 2 || fits(unit.trim()) {
            cur.push_str(unit);
        } else {
            pack(unit, level + 1, fits, cur, out);
        }
    }
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    let t = cur.trim();
    if !t.is_empty() {
        out.push(t.to_string());
    }
    cur.clear();
}

/// The sentences of a text, each with the space after it: a sentence ends at
/// `.`, `!`, `?` or `…` followed by white space, and at a blank line.
fn sentences(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < chars.len() {
        let c = chars[i].1;
        let next = chars.get(i + 1).map(|(_, c)| *c);
        let ends = (matches!(c, '.' | '!' | '?' | '…') && next.is_some_and(char::is_whitespace))
            || (c == '\n' && next == Some('\n'));
        if ends {
            let mut j = i + 1;
            while j < chars.len() && chars[j].1.is_whitespace() {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |(b, _)| *b);
            out.push(&text[start..end]);
            start = end;
            i = j;
        } else {
            i += 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn under(n: usize) -> impl Fn(&str) -> bool {
        move |t: &str| t.chars().count() <= n
    }

    #[test]
    fn a_text_that_fits_stays_one_part() {
        assert_eq!(split_to_fit("Short. Sweet.", false, &under(300)), ["Short. Sweet."]);
        assert_eq!(number(vec!["one".into()]), ["one"]);
    }

    #[test]
    fn cuts_at_sentences_then_words_then_characters() {
        let text = "First sentence here. Second one is longer! Third? Fourth.";
        let parts = split_to_fit(text, false, &under(25));
        assert_eq!(parts, ["First sentence here.", "Second one is longer!", "Third? Fourth."]);
        assert!(parts.iter().all(|p| p.chars().count() <= 25));
        let parts = split_to_fit("aaaa bbbb cccc dddd", false, &under(9));
        assert_eq!(parts, ["aaaa bbbb", "cccc dddd"]);
        let parts = split_to_fit("abcdefghij", false, &under(4));
        assert_eq!(parts, ["abcd", "efgh", "ij"]);
        // Paragraphs end sentences too, and the line breaks inside a part stay.
        let parts = split_to_fit("One\nline two\n\nNext paragraph", false, &under(14));
        assert_eq!(parts, ["One\nline two", "Next paragraph"]);
    }

    #[test]
    fn numbering_leaves_room_and_counts_the_parts() {
        let text = "Alpha beta. Gamma delta. Epsilon zeta.";
        let parts = number(split_to_fit(text, true, &under(19)));
        assert_eq!(parts, ["Alpha beta. 1/3", "Gamma delta. 2/3", "Epsilon zeta. 3/3"]);
        assert!(parts.iter().all(|p| p.chars().count() <= 19));
    }
}
