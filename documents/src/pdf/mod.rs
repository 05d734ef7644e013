//! PDF documents: A4 pages of text lines, rules and bands, in DejaVu Sans embedded as a
//! simple TrueType font with WinAnsi encoding (German text, €, dashes). The same input
//! gives the same bytes: nothing here reads a clock or a random source.

pub mod invoice;
pub mod sla;

use std::sync::LazyLock;

use pdf_writer::types::FontFlags;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

pub const WIDTH: f32 = 595.0;
pub const HEIGHT: f32 = 842.0;
pub const LEFT: f32 = 50.0;
pub const RIGHT: f32 = WIDTH - 50.0;

/// A font and the widths of its WinAnsi characters (1/1000 em).
pub struct Font {
    name: &'static [u8],
    data: &'static [u8],
    /// The font file deflated once, not per document.
    compressed: Vec<u8>,
    widths: [f32; 256],
    bbox: Rect,
    ascent: f32,
    descent: f32,
    cap_height: f32,
}

/// The WinAnsi (Windows-1252) code of a character; `?` for one it lacks.
pub fn winansi_code(c: char) -> u8 {
    match c {
        '€' => 0x80,
        '‚' => 0x82,
        '„' => 0x84,
        '…' => 0x85,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '™' => 0x99,
        '›' => 0x9B,
        '\u{a0}'..='\u{ff}' | '\u{20}'..='\u{7e}' => c as u8,
        _ => b'?',
    }
}

/// The character a WinAnsi code stands for.
fn winansi_char(code: u8) -> Option<char> {
    const HIGH: [(u8, char); 13] = [
        (0x80, '€'),
        (0x82, '‚'),
        (0x84, '„'),
        (0x85, '…'),
        (0x91, '‘'),
        (0x92, '’'),
        (0x93, '“'),
        (0x94, '”'),
        (0x95, '•'),
        (0x96, '–'),
        (0x97, '—'),
        (0x99, '™'),
        (0x9B, '›'),
    ];
    match code {
        0x20..=0x7e | 0xa0..=0xff => Some(code as char),
        _ => HIGH.iter().find(|(c, _)| *c == code).map(|(_, ch)| *ch),
    }
}

pub fn winansi(s: &str) -> Vec<u8> {
    s.chars().map(winansi_code).collect()
}

impl Font {
    fn load(name: &'static [u8], data: &'static [u8]) -> Font {
        let face = ttf_parser::Face::parse(data, 0).expect("the embedded font parses");
        let scale = 1000.0 / f32::from(face.units_per_em());
        let mut widths = [0.0; 256];
        for (code, width) in widths.iter_mut().enumerate() {
            *width = winansi_char(code as u8)
                .and_then(|c| face.glyph_index(c))
                .and_then(|g| face.glyph_hor_advance(g))
                .map_or(0.0, |w| f32::from(w) * scale);
        }
        let b = face.global_bounding_box();
        Font {
            name,
            data,
            compressed: miniz_oxide::deflate::compress_to_vec_zlib(data, 9),
            widths,
            bbox: Rect::new(
                f32::from(b.x_min) * scale,
                f32::from(b.y_min) * scale,
                f32::from(b.x_max) * scale,
                f32::from(b.y_max) * scale,
            ),
            ascent: f32::from(face.ascender()) * scale,
            descent: f32::from(face.descender()) * scale,
            cap_height: face.capital_height().map_or(700.0, |h| f32::from(h) * scale),
        }
    }

    /// The width of a text at a size, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        winansi(text).iter().map(|b| self.widths[*b as usize]).sum::<f32>() * size / 1000.0
    }

    /// Writes the font, its descriptor and its (compressed) file.
    fn write(&self, pdf: &mut Pdf, font: Ref, descriptor: Ref, file: Ref) {
        let mut dict = pdf.indirect(font).dict();
        dict.pair(Name(b"Type"), Name(b"Font"));
        dict.pair(Name(b"Subtype"), Name(b"TrueType"));
        dict.pair(Name(b"BaseFont"), Name(self.name));
        dict.pair(Name(b"FirstChar"), 32);
        dict.pair(Name(b"LastChar"), 255);
        dict.insert(Name(b"Widths")).array().items(self.widths[32..].iter().copied());
        dict.pair(Name(b"FontDescriptor"), descriptor);
        dict.pair(Name(b"Encoding"), Name(b"WinAnsiEncoding"));
        dict.finish();
        pdf.font_descriptor(descriptor)
            .name(Name(self.name))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(self.bbox)
            .italic_angle(0.0)
            .ascent(self.ascent)
            .descent(self.descent)
            .cap_height(self.cap_height)
            .stem_v(80.0)
            .font_file2(file);
        pdf.stream(file, &self.compressed).filter(Filter::FlateDecode).pair(Name(b"Length1"), self.data.len() as i32);
    }
}

pub static REGULAR: LazyLock<Font> =
    LazyLock::new(|| Font::load(b"DejaVuSans", include_bytes!("../../assets/fonts/DejaVuSans.ttf")));
pub static BOLD: LazyLock<Font> =
    LazyLock::new(|| Font::load(b"DejaVuSans-Bold", include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf")));

#[derive(Clone, Copy, PartialEq)]
pub enum Weight {
    Regular,
    Bold,
}

impl Weight {
    fn font(self) -> &'static Font {
        match self {
            Weight::Regular => &REGULAR,
            Weight::Bold => &BOLD,
        }
    }
    fn resource(self) -> Name<'static> {
        match self {
            Weight::Regular => Name(b"F1"),
            Weight::Bold => Name(b"F2"),
        }
    }
}

/// One page being drawn.
pub struct Page {
    content: Content,
}

impl Default for Page {
    fn default() -> Self {
        Page::new()
    }
}

impl Page {
    pub fn new() -> Page {
        Page { content: Content::new() }
    }

    /// Text with its left edge at `x` and its baseline at `y`.
    pub fn text(&mut self, x: f32, y: f32, size: f32, weight: Weight, text: &str) {
        self.content
            .begin_text()
            .set_font(weight.resource(), size)
            .next_line(x, y)
            .show(Str(&winansi(text)))
            .end_text();
    }

    /// Text with its right edge at `x`.
    pub fn text_right(&mut self, x: f32, y: f32, size: f32, weight: Weight, text: &str) {
        let w = weight.font().width(text, size);
        self.text(x - w, y, size, weight, text);
    }

    /// Text cut with `…` to fit `width`.
    pub fn text_fit(&mut self, x: f32, y: f32, size: f32, weight: Weight, text: &str, width: f32) {
        let font = weight.font();
        if font.width(text, size) <= width {
            return self.text(x, y, size, weight, text);
        }
        let mut cut: String = text.to_owned();
        while !cut.is_empty() && font.width(&format!("{cut}…"), size) > width {
            cut.pop();
        }
        self.text(x, y, size, weight, &format!("{cut}…"));
    }

    pub fn rule(&mut self, y: f32, width: f32) {
        self.content.set_line_width(width).move_to(LEFT, y).line_to(RIGHT, y).stroke();
    }

    /// A filled rectangle.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, gray: f32) {
        self.content.set_fill_gray(gray).rect(x, y, w, h).fill_nonzero().set_fill_gray(0.0);
    }

    /// A thin line.
    pub fn line(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, width: f32) {
        self.content.set_line_width(width).move_to(x0, y0).line_to(x1, y1).stroke();
    }

    pub fn band(&mut self, y: f32, height: f32, gray: f32) {
        self.content.set_fill_gray(gray).rect(LEFT, y, RIGHT - LEFT, height).fill_nonzero().set_fill_gray(0.0);
    }
}

/// Breaks a text into lines no wider than `width`.
pub fn wrap(text: &str, size: f32, weight: Weight, width: f32) -> Vec<String> {
    let font = weight.font();
    let mut lines = vec![];
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if font.width(&candidate, size) > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line = word.to_owned();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Assembles pages into a document with the fonts embedded once.
pub fn document(title: &str, pages: Vec<Page>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let mut ids = Ref::new(1);
    let (catalog, tree, info) = (ids.bump(), ids.bump(), ids.bump());
    let fonts =
        [(Weight::Regular, ids.bump(), ids.bump(), ids.bump()), (Weight::Bold, ids.bump(), ids.bump(), ids.bump())];
    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info).title(TextStr(title)).producer(TextStr("Directory"));
    for (weight, font, descriptor, file) in fonts {
        weight.font().write(&mut pdf, font, descriptor, file);
    }
    let mut kids = vec![];
    for page in pages {
        let (page_id, content_id) = (ids.bump(), ids.bump());
        kids.push(page_id);
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT)).parent(tree).contents(content_id);
        p.resources().fonts().pair(Weight::Regular.resource(), fonts[0].1).pair(Weight::Bold.resource(), fonts[1].1);
        p.finish();
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&page.content.finish(), 6);
        pdf.stream(content_id, &compressed).filter(Filter::FlateDecode);
    }
    pdf.pages(tree).count(kids.len() as i32).kids(kids);
    pdf.finish()
}

/// A month as German text: `März 2026`.
pub fn month_name(period: domain::Period) -> String {
    const MONTHS: [&str; 12] = [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ];
    format!("{} {}", MONTHS[period.month() as usize - 1], period.year())
}

/// German money: `1.234,56 €`.
pub fn euro(amount: rust_decimal::Decimal) -> String {
    format!("{} €", german(amount.round_dp(2), 2))
}

/// A German decimal with at least `min_scale` places: thousands by `.`, decimals by `,`.
pub fn german(value: rust_decimal::Decimal, min_scale: u32) -> String {
    let mut v = value.normalize();
    if v.scale() < min_scale {
        v.rescale(min_scale);
    }
    let text = v.abs().to_string();
    let (int, frac) = text.split_once('.').map_or((text.as_str(), ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if value.is_sign_negative() && !value.is_zero() { "-" } else { "" };
    if frac.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped},{frac}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_numbers_and_money() {
        let d = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        assert_eq!(euro(d("1234.5")), "1.234,50 €");
        assert_eq!(euro(d("-75.72")), "-75,72 €");
        assert_eq!(euro(d("0")), "0,00 €");
        assert_eq!(german(d("0.045"), 2), "0,045");
        assert_eq!(german(d("1000000"), 0), "1.000.000");
    }

    #[test]
    fn widths_come_from_the_font() {
        assert!(REGULAR.width("Rechnung", 10.0) > 30.0);
        assert!(BOLD.width("W", 10.0) > REGULAR.width("i", 10.0));
        assert_eq!(winansi("Grüße – 5 €"), b"Gr\xfc\xdfe \x96 5 \x80");
    }
}
