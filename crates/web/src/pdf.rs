//! Signed documents as PDF files: the text as signed, then the signature block (who signed, in
//! what role, when) and the SHA-256 of the exact text signed, so that anyone holding the file
//! can check it against the practice's copy.
//!
//! The file uses Helvetica, one of the standard fonts every PDF reader has, in the Windows
//! ANSI encoding: nothing is embedded and the text is extractable as written. Characters
//! outside that encoding are written as `?`. Lines are wrapped by a character count chosen so
//! that Helvetica's widest ordinary text fits the page's measure.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// A US Letter page, in points.
const PAGE: (f32, f32) = (612.0, 792.0);
const MARGIN: f32 = 72.0;
const SIZE: f32 = 10.5;
const LEADING: f32 = 14.0;
/// Characters per line: 10.5 pt Helvetica averages well under 0.55 em per character, so 80 of
/// them stay inside the 468 pt measure.
const WRAP: usize = 80;

/// `line` wrapped at word boundaries to at most [`WRAP`] characters (a longer word is cut).
fn wrap(line: &str) -> Vec<String> {
    let indent = if line.starts_with("- ") { "  " } else { "" };
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        let width = current.chars().count();
        if width > 0 && width + 1 + word.chars().count() > WRAP {
            out.push(std::mem::take(&mut current));
            current.push_str(indent);
        } else if width > 0 {
            current.push(' ');
        }
        current.push_str(word);
        while current.chars().count() > WRAP {
            let cut: String = current.chars().take(WRAP).collect();
            current = current.chars().skip(WRAP).collect();
            out.push(cut);
        }
    }
    out.push(current);
    out
}

/// `text` in the Windows ANSI encoding of the standard fonts.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '\u{2018}' => 0x91,
            '\u{2019}' => 0x92,
            '\u{201c}' => 0x93,
            '\u{201d}' => 0x94,
            '\u{2022}' => 0x95,
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            '\u{2026}' => 0x85,
            _ => b'?',
        })
        .collect()
}

/// A PDF of `lines` (a document's text, then its signature block) titled `title`.
pub fn document(title: &str, lines: &[String]) -> Vec<u8> {
    let wrapped: Vec<String> = lines.iter().flat_map(|l| wrap(l)).collect();
    let per_page = ((PAGE.1 - 2.0 * MARGIN) / LEADING) as usize;
    let pages: Vec<&[String]> = wrapped.chunks(per_page.max(1)).collect();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let info = Ref::new(4);
    let font_name = Name(b"F1");
    let page_ids: Vec<Ref> = (0..pages.len())
        .map(|i| Ref::new(5 + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(pages.len() as i32);
    pdf.document_info(info).title(TextStr(title));
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    for (i, lines) in pages.iter().enumerate() {
        let id = page_ids[i];
        let contents = Ref::new(id.get() + 1);
        let mut page = pdf.page(id);
        page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
        page.parent(tree);
        page.contents(contents);
        page.resources().fonts().pair(font_name, font);
        page.finish();
        let mut content = Content::new();
        content.begin_text();
        content.set_font(font_name, SIZE);
        content.set_leading(LEADING);
        content.next_line(MARGIN, PAGE.1 - MARGIN);
        for line in lines.iter() {
            content.show(Str(&win_ansi(line)));
            content.next_line_using_leading();
        }
        content.end_text();
        pdf.stream(contents, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_wrap_within_the_measure_and_keep_every_word() {
        let line = "word ".repeat(60);
        let wrapped = wrap(line.trim());
        assert!(wrapped.iter().all(|l| l.chars().count() <= WRAP));
        assert_eq!(wrapped.join(" ").split(' ').count(), 60);
    }

    #[test]
    fn a_document_is_a_pdf_with_a_page_per_screenful() {
        let lines: Vec<String> = (0..100).map(|i| format!("Line {i}")).collect();
        let bytes = document("T", &lines);
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Count 3"), "100 lines at 46 a page");
    }
}
