//! PDF documents: A4 pages of text lines, rules and bands, as PDF/A-3b. The text is in
//! DejaVu Sans, embedded per document as a subset of the glyphs it shows: a CID font whose
//! CIDs are the font's own glyph ids, with a ToUnicode map so that text can be copied and
//! searched. Any character the font has prints (German text, €, arrows, names from all of
//! Europe); one it lacks prints as `?`. A document may carry files (the invoice's Factur-X
//! XML). The same input gives the same bytes: nothing here reads a clock or a random source.

pub mod invoice;
pub mod sla;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Timelike, Utc};
use pdf_writer::types::{AssociationKind, CidFontType, FontFlags, OutputIntentSubtype, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

pub const WIDTH: f32 = 595.0;
pub const HEIGHT: f32 = 842.0;
pub const LEFT: f32 = 50.0;
pub const RIGHT: f32 = WIDTH - 50.0;

/// The output intent of every document (PDF/A needs one): the compact sRGB profile of
/// `assets/icc/README.md`.
const SRGB: &[u8] = include_bytes!("../../assets/icc/sRGB-v2-magic.icc");

/// A font: its file, its glyphs by character, and their widths (1/1000 em).
pub struct Font {
    name: &'static str,
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    /// By glyph id.
    widths: Vec<f32>,
    /// The glyph of `?`, for characters the font lacks.
    fallback: u16,
    bbox: Rect,
    ascent: f32,
    descent: f32,
    cap_height: f32,
}

impl Font {
    fn load(name: &'static str, data: &'static [u8]) -> Font {
        let face = ttf_parser::Face::parse(data, 0).expect("the embedded font parses");
        let scale = 1000.0 / f32::from(face.units_per_em());
        let widths = (0..face.number_of_glyphs())
            .map(|g| face.glyph_hor_advance(ttf_parser::GlyphId(g)).map_or(0.0, |w| f32::from(w) * scale))
            .collect();
        let b = face.global_bounding_box();
        Font {
            name,
            data,
            fallback: face.glyph_index('?').map_or(0, |g| g.0),
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
            face,
        }
    }

    /// The glyph that shows a character, and the character it stands for (`?` for one the
    /// font lacks, and for control characters).
    fn glyph(&self, c: char) -> (u16, char) {
        match self.face.glyph_index(c) {
            Some(g) if !c.is_control() => (g.0, c),
            _ => (self.fallback, '?'),
        }
    }

    /// The width of a text at a size, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.widths[usize::from(self.glyph(c).0)]).sum::<f32>() * size / 1000.0
    }

    /// Writes the font as a CID font over a subset of its glyphs: the ones of `shown`
    /// (each with the character it stands for).
    fn write(&self, pdf: &mut Pdf, ids: &mut Ref, font: Ref, shown: &BTreeMap<u16, char>) {
        let (cid_font, descriptor, file, to_gid, to_unicode) =
            (ids.bump(), ids.bump(), ids.bump(), ids.bump(), ids.bump());
        let mut remapper = subsetter::GlyphRemapper::new();
        for glyph in shown.keys() {
            remapper.remap(*glyph);
        }
        let subset = subsetter::subset(self.data, 0, &remapper).expect("DejaVu Sans subsets");
        // The subset's tag: six capitals that name the glyphs it holds (ISO 32000-1, 9.6.4).
        let mut hash = fnv(shown.keys().flat_map(|g| g.to_be_bytes()));
        let tag: String = (0..6)
            .map(|_| {
                let letter = char::from(b'A' + (hash % 26) as u8);
                hash /= 26;
                letter
            })
            .collect();
        let base = format!("{tag}+{}", self.name);
        pdf.type0_font(font)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_font)
            .to_unicode(to_unicode);
        let mut cid = pdf.cid_font(cid_font);
        cid.subtype(CidFontType::Type2)
            .base_font(Name(base.as_bytes()))
            .system_info(SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 })
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_stream(to_gid);
        let mut widths = cid.widths();
        for glyph in shown.keys() {
            widths.consecutive(*glyph, [self.widths[usize::from(*glyph)]]);
        }
        widths.finish();
        cid.finish();
        pdf.font_descriptor(descriptor)
            .name(Name(base.as_bytes()))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(self.bbox)
            .italic_angle(0.0)
            .ascent(self.ascent)
            .descent(self.descent)
            .cap_height(self.cap_height)
            .stem_v(80.0)
            .font_file2(file);
        pdf.stream(file, &miniz_oxide::deflate::compress_to_vec_zlib(&subset, 9))
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), subset.len() as i32);
        // CID (the glyph's id in the whole font) to its id in the subset, two bytes each.
        let last = shown.keys().next_back().copied().unwrap_or(0);
        let map: Vec<u8> = (0..=last)
            .flat_map(|glyph| remapper.get(glyph).filter(|_| shown.contains_key(&glyph)).unwrap_or(0).to_be_bytes())
            .collect();
        pdf.stream(to_gid, &miniz_oxide::deflate::compress_to_vec_zlib(&map, 9)).filter(Filter::FlateDecode);
        let info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"UCS"), supplement: 0 };
        let mut cmap = UnicodeCmap::new(Name(b"Directory-UCS"), info);
        for (glyph, c) in shown {
            cmap.pair(*glyph, *c);
        }
        pdf.cmap(to_unicode, &cmap.finish());
    }
}

pub static REGULAR: LazyLock<Font> =
    LazyLock::new(|| Font::load("DejaVuSans", include_bytes!("../../assets/fonts/DejaVuSans.ttf")));
pub static BOLD: LazyLock<Font> =
    LazyLock::new(|| Font::load("DejaVuSans-Bold", include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf")));

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
    fn index(self) -> usize {
        self as usize
    }
}

/// One page being drawn.
pub struct Page {
    content: Content,
    /// The glyphs shown, per weight, with the characters they stand for: what the
    /// document's font subsets hold.
    shown: [BTreeMap<u16, char>; 2],
}

impl Default for Page {
    fn default() -> Self {
        Page::new()
    }
}

impl Page {
    pub fn new() -> Page {
        Page { content: Content::new(), shown: [BTreeMap::new(), BTreeMap::new()] }
    }

    /// Text with its left edge at `x` and its baseline at `y`.
    pub fn text(&mut self, x: f32, y: f32, size: f32, weight: Weight, text: &str) {
        let font = weight.font();
        let shown = &mut self.shown[weight.index()];
        let mut cids = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let (glyph, stands_for) = font.glyph(c);
            shown.entry(glyph).or_insert(stands_for);
            cids.extend_from_slice(&glyph.to_be_bytes());
        }
        self.content.begin_text().set_font(weight.resource(), size).next_line(x, y).show(Str(&cids)).end_text();
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

/// A file a document carries (PDF/A-3 associated file).
pub struct Attachment<'a> {
    pub name: &'a str,
    pub mime: &'a str,
    pub description: &'a str,
    pub bytes: &'a [u8],
    /// Extra XMP the file calls for (Factur-X declares itself there).
    pub xmp: fn(&mut xmp_writer::XmpWriter<'_>),
}

/// What a document says of itself.
pub struct About<'a> {
    pub title: &'a str,
    /// When the document came to be (an invoice's issue, a report's month end): the same
    /// input gives the same bytes.
    pub created: DateTime<Utc>,
    pub attachment: Option<Attachment<'a>>,
}

/// Assembles pages into a PDF/A-3b document: the fonts embedded once as subsets, an sRGB
/// output intent, XMP metadata, and the attachment, if any, as an associated file.
pub fn document(about: About<'_>, pages: Vec<Page>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    pdf.set_version(1, 7);
    let mut ids = Ref::new(1);
    let (catalog, tree, info, metadata, icc) = (ids.bump(), ids.bump(), ids.bump(), ids.bump(), ids.bump());
    let fonts = [(Weight::Regular, ids.bump()), (Weight::Bold, ids.bump())];
    let mut shown = [BTreeMap::new(), BTreeMap::new()];
    for page in &pages {
        for (all, this) in shown.iter_mut().zip(&page.shown) {
            all.extend(this.iter().map(|(g, c)| (*g, *c)));
        }
    }
    for (weight, font) in fonts {
        weight.font().write(&mut pdf, &mut ids, font, &shown[weight.index()]);
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

    let date = pdf_date(about.created);
    pdf.document_info(info)
        .title(TextStr(about.title))
        .producer(TextStr(PRODUCER))
        .creation_date(date)
        .modified_date(date);
    let mut xmp = xmp_writer::XmpWriter::new();
    xmp.title([(None, about.title)]);
    xmp.producer(PRODUCER);
    xmp.create_date(xmp_date(about.created));
    xmp.modify_date(xmp_date(about.created));
    xmp.pdfa_part(3);
    xmp.pdfa_conformance("B");
    let file = about.attachment.as_ref().map(|a| {
        (a.xmp)(&mut xmp);
        (ids.bump(), ids.bump())
    });
    let xmp = xmp.finish(None);
    // PDF/A reads metadata unfiltered.
    pdf.metadata(metadata, xmp.as_bytes());
    pdf.stream(icc, &miniz_oxide::deflate::compress_to_vec_zlib(SRGB, 9))
        .filter(Filter::FlateDecode)
        .pair(Name(b"N"), 3);
    if let (Some(a), Some((spec, stream))) = (&about.attachment, file) {
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(a.bytes, 9);
        let mut embedded = pdf.embedded_file(stream, &compressed);
        embedded.subtype(Name(a.mime.replace('/', "#2F").as_bytes())).filter(Filter::FlateDecode);
        embedded.params().size(a.bytes.len() as i32).modification_date(date);
        embedded.finish();
        let mut fs = pdf.file_spec(spec);
        fs.path(Str(a.name.as_bytes())).unic_file(TextStr(a.name)).description(TextStr(a.description));
        fs.association_kind(AssociationKind::Alternative).embedded_file_with_unicode(stream);
        fs.finish();
    }
    let mut cat = pdf.catalog(catalog);
    cat.pages(tree).metadata(metadata);
    cat.output_intents()
        .push()
        .subtype(OutputIntentSubtype::PDFA)
        .output_condition_identifier(TextStr("sRGB IEC61966-2.1"))
        .info(TextStr("sRGB IEC61966-2.1"))
        .dest_output_profile(icc);
    if let (Some(a), Some((spec, _))) = (&about.attachment, file) {
        cat.names().embedded_files().names().insert(Str(a.name.as_bytes()), spec);
        cat.insert(Name(b"AF")).array().item(spec);
    }
    cat.finish();
    // The file's identifier: from its title and date, so the same document has the same one.
    let id = fnv(about.title.bytes().chain(about.created.timestamp().to_be_bytes())).to_be_bytes().repeat(2);
    pdf.set_file_id((id.clone(), id));
    pdf.finish()
}

const PRODUCER: &str = "Directory";

/// FNV-1a: a stable hash for names and identifiers that must not change between builds.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn pdf_date(at: DateTime<Utc>) -> pdf_writer::Date {
    pdf_writer::Date::new(at.year() as u16)
        .month(at.month() as u8)
        .day(at.day() as u8)
        .hour(at.hour() as u8)
        .minute(at.minute() as u8)
        .second(at.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

fn xmp_date(at: DateTime<Utc>) -> xmp_writer::DateTime {
    xmp_writer::DateTime::new(
        at.year() as u16,
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
        xmp_writer::Timezone::Utc,
    )
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
        assert_eq!(REGULAR.width("Grüße → 5 €", 10.0), REGULAR.width("Grüße → 5 €", 20.0) / 2.0);
        assert_eq!(REGULAR.glyph('→').1, '→', "arrows print");
        assert_eq!(REGULAR.glyph('Ł').1, 'Ł', "Polish names print");
        assert_eq!(REGULAR.glyph('\u{7}'), REGULAR.glyph('?'), "control characters print as ?");
    }
}
