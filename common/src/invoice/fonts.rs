//! The two faces the invoice uses (DejaVu Sans and DejaVu Sans Bold, shipped in
//! `common/assets/fonts/`, embedded at compile time), parsed once per process, and text
//! measurement from their glyph advances: widths, ellipsis and word wrapping.
//!
//! printpdf subsets each face to the glyphs a document draws, and subsetting reads the glyph
//! tables of the face it is given: all 6,000 glyphs of DejaVu Sans for every invoice. So each
//! face is also cut once per process to [`in_common_set`]'s characters (a few hundred glyphs,
//! same outlines and advances), and a document whose text stays within them (nearly all) is
//! subset from that cut instead; any other character and the document uses the whole face.
//!
//! Subsetting and then deflating the subset still took most of a render. So each face is also
//! cut to the smaller [`in_core_set`] (printable ASCII, `₹` and the punctuation the invoice
//! prints: about a hundred glyphs), and that cut's font program is deflated once per process. A
//! face whose text a document keeps within the core set (most invoices: English names and
//! addresses) embeds the core cut whole, its compressed program copied in, neither subset nor
//! deflated again. The price is a few kilobytes per face: the glyphs the document does not draw.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use printpdf::{FontEmbeddingMode, FontId, Op, ParsedFont, PdfFont, PdfFontHandle, TextItem};

use super::RenderError;

const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The ellipsis that ends a cut text.
pub const ELLIPSIS: char = '…';

/// A face of the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// DejaVu Sans.
    Regular,
    /// DejaVu Sans Bold.
    Bold,
}

impl Face {
    /// The PDF resource name. Its first six letters are also the subset tag printpdf writes in
    /// front of the font name (`ECREGU+DejaVuSans`), so both are six capitals and distinct.
    pub fn resource_name(self) -> &'static str {
        match self {
            Face::Regular => "ECREGU",
            Face::Bold => "ECBOLD",
        }
    }

    /// The printpdf font id.
    pub fn id(self) -> FontId {
        FontId(self.resource_name().to_owned())
    }
}

/// Whether `c` is in the character set each face is cut to ahead of time: ASCII, Latin-1 and
/// Latin Extended-A, general punctuation (`…`, dashes, quotes) and the currency signs (`₹`).
pub fn in_common_set(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{a0}'..='\u{17f}' | '\u{2000}'..='\u{206f}' | '\u{20a0}'..='\u{20cf}')
}

/// Whether `c` is in the core set each face is also cut to: printable ASCII, the rupee sign,
/// the no-break space and the punctuation the invoice itself prints (`…`, dashes, quotes). A
/// subset of [`in_common_set`].
pub fn in_core_set(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{a0}' | '₹' | '…' | '–' | '—' | '‘' | '’' | '“' | '”')
}

/// A face cut to [`in_core_set`], embedded whole.
pub struct CoreFace {
    /// The cut, parsed.
    pub font: ParsedFont,
    /// Its font program: what printpdf embeds for it.
    pub program: Vec<u8>,
    /// The program deflated (zlib, level 9), copied into every document that embeds the cut.
    pub deflated: Vec<u8>,
}

/// A parsed face and what measuring needs.
pub struct LoadedFace {
    /// The parsed font, with its source bytes for subsetting.
    pub font: ParsedFont,
    /// The face cut to [`in_common_set`]: what a document drawing only those characters is
    /// subset from.
    pub common: ParsedFont,
    /// The face cut to [`in_core_set`]: what a document drawing only those characters embeds.
    pub core: CoreFace,
    units_per_em: u32,
}

impl LoadedFace {
    fn parse(bytes: &[u8], name: &str) -> Result<LoadedFace, String> {
        let font = ParsedFont::from_bytes(bytes, 0, &mut Vec::new()).ok_or_else(|| format!("cannot parse {name}"))?;
        let units_per_em = u32::from(font.pdf_font_metrics.units_per_em);
        if units_per_em == 0 {
            return Err(format!("{name} has no units per em"));
        }
        if font.lookup_glyph_index(u32::from('₹')).is_none() {
            return Err(format!("{name} has no ₹ glyph"));
        }
        let (common, _) = cut(&font, in_common_set).map_err(|e| format!("cutting {name}: {e}"))?;
        let (core, program) = cut(&font, in_core_set).map_err(|e| format!("cutting {name} to the core set: {e}"))?;
        let deflated = super::deflate(&program, 9).map_err(|e| format!("deflating {name}'s core cut: {e}"))?;
        Ok(LoadedFace { font, common, core: CoreFace { font: core, program, deflated }, units_per_em })
    }

    /// The advance of `c` in thousandths of an em, truncated exactly as printpdf writes the
    /// font's `/W` widths, so a measured width is the width the viewer draws. A character the
    /// font lacks is drawn (and measured) as `.notdef`.
    fn advance_milli(&self, c: char) -> u32 {
        let gid = self.font.lookup_glyph_index(u32::from(c)).unwrap_or(0);
        u32::from(self.font.get_horizontal_advance(gid)) * 1000 / self.units_per_em
    }

    /// Width of `text` at `size` points, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let milli: u32 = text.chars().map(|c| self.advance_milli(c)).sum();
        milli as f32 * size / 1000.0
    }
}

/// `font` with only the glyphs of the characters of `set` (a subset of [`in_common_set`]) and
/// `.notdef`, parsed, and its font program.
fn cut(font: &ParsedFont, set: fn(char) -> bool) -> Result<(ParsedFont, Vec<u8>), String> {
    let mut glyphs: BTreeMap<u16, String> = BTreeMap::new();
    for c in (' '..='\u{20cf}').filter(|&c| set(c)) {
        if let Some(gid) = font.lookup_glyph_index(u32::from(c)) {
            glyphs.entry(gid).or_insert_with(|| c.to_string());
        }
    }
    let subset = printpdf::subset_font(font, &glyphs)?;
    let common = ParsedFont::from_bytes(&subset.bytes, 0, &mut Vec::new()).ok_or("cannot parse the cut")?;
    // Same characters, same advances: what was measured on the whole face is what is drawn.
    for c in (' '..='\u{20cf}').filter(|&c| set(c)) {
        let Some(whole) = font.lookup_glyph_index(u32::from(c)) else { continue };
        let Some(cut) = common.lookup_glyph_index(u32::from(c)) else {
            return Err(format!("the cut lost U+{:04X}", u32::from(c)));
        };
        if font.get_horizontal_advance(whole) != common.get_horizontal_advance(cut) {
            return Err(format!("the cut changed the advance of U+{:04X}", u32::from(c)));
        }
    }
    Ok((common, subset.bytes))
}

/// Both faces.
pub struct Fonts {
    regular: LoadedFace,
    bold: LoadedFace,
}

impl Fonts {
    /// The faces, parsed on first use (a few milliseconds) and kept for the process.
    pub fn get() -> Result<&'static Fonts, RenderError> {
        static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();
        FONTS
            .get_or_init(|| {
                Ok(Fonts {
                    regular: LoadedFace::parse(REGULAR_TTF, "DejaVuSans.ttf")?,
                    bold: LoadedFace::parse(BOLD_TTF, "DejaVuSans-Bold.ttf")?,
                })
            })
            .as_ref()
            .map_err(|e| RenderError::Font(e.clone()))
    }

    /// One face.
    pub fn face(&self, face: Face) -> &LoadedFace {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
        }
    }

    /// Width of `text` in `face` at `size` points.
    pub fn width(&self, face: Face, size: f32, text: &str) -> f32 {
        self.face(face).width(text, size)
    }

    /// The printpdf fonts to register for `pages`, under their fixed ids (fixed ids keep
    /// re-renders byte-identical; printpdf's own ids are random). For each face: its core cut,
    /// embedded whole, when the pages draw nothing outside [`in_core_set`] in it; else its
    /// common cut when they draw nothing outside [`in_common_set`]; else the whole face (both
    /// subset to the glyphs drawn).
    pub fn pdf_fonts(&self, pages: &[Vec<Op>]) -> [(FontId, PdfFont); 2] {
        [Face::Regular, Face::Bold].map(|face| {
            let loaded = self.face(face);
            let font = if draws_only(pages, face, in_core_set) {
                let mut core = PdfFont::new(loaded.core.font.clone());
                core.meta.embedding_mode = FontEmbeddingMode::Full;
                core
            } else if draws_only(pages, face, in_common_set) {
                PdfFont::new(loaded.common.clone())
            } else {
                PdfFont::new(loaded.font.clone())
            };
            (face.id(), font)
        })
    }

    /// The deflated program of the core cut whose program is `program`, if it is one.
    pub fn deflated_core_program(&self, program: &[u8]) -> Option<&[u8]> {
        [&self.regular.core, &self.bold.core]
            .into_iter()
            .find(|core| core.program.len() == program.len() && core.program == program)
            .map(|core| core.deflated.as_slice())
    }

    /// The subset-tagged name (`ECREGU+DejaVuSans`) for the PostScript name printpdf writes
    /// for a face's core cut: it embeds the cut whole, so untagged, but the cut is a subset of
    /// the face, which the tag says (ISO 32000-1, 9.6.4).
    pub fn tagged_core_name(&self, name: &[u8]) -> Option<Vec<u8>> {
        [Face::Regular, Face::Bold].into_iter().find_map(|face| {
            let font_name = self.face(face).core.font.font_name.as_deref()?;
            (font_name.as_bytes() == name).then(|| format!("{}+{font_name}", face.resource_name()).into_bytes())
        })
    }

    /// `text` if it fits in `max` points, else its longest prefix that fits followed by `…`
    /// (just `…`, or nothing, when even that does not fit).
    pub fn ellipsize(&self, face: Face, size: f32, max: f32, text: &str) -> String {
        let f = self.face(face);
        if f.width(text, size) <= max {
            return text.to_owned();
        }
        let budget = max - f.width(&ELLIPSIS.to_string(), size);
        if budget < 0.0 {
            return String::new();
        }
        let mut used = 0.0;
        let mut out = String::new();
        for c in text.chars() {
            let w = f.advance_milli(c) as f32 * size / 1000.0;
            if used + w > budget {
                break;
            }
            used += w;
            out.push(c);
        }
        let mut out = out.trim_end().to_owned();
        out.push(ELLIPSIS);
        out
    }

    /// The font size at which `text` fits in `max` points: `size`, or smaller (never below
    /// `min`). Used for amounts, which are shrunk rather than cut.
    pub fn fit_size(&self, face: Face, size: f32, min: f32, max: f32, text: &str) -> f32 {
        let w = self.width(face, size, text);
        // A hair under the exact ratio, so rounding never leaves the text a hair too wide.
        if w <= max || w <= 0.0 { size } else { (size * max / w * 0.999).max(min) }
    }

    /// `text` broken into lines of at most `max` points, at spaces (a word longer than a line is
    /// broken anywhere), keeping explicit line breaks; at most `max_lines` lines, the last one
    /// ending in `…` when text was left out. Blank lines are dropped.
    pub fn wrap(&self, face: Face, size: f32, max: f32, text: &str, max_lines: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut truncated = false;
        'paragraphs: for paragraph in text.lines() {
            let mut current = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if current.is_empty() { word.to_owned() } else { format!("{current} {word}") };
                if self.width(face, size, &candidate) <= max {
                    current = candidate;
                    continue;
                }
                if !current.is_empty() {
                    lines.push(std::mem::take(&mut current));
                    if lines.len() == max_lines {
                        truncated = true;
                        break 'paragraphs;
                    }
                }
                // The word alone: break it where it overflows.
                let mut rest = word;
                while self.width(face, size, rest) > max {
                    let cut = self.fitting_prefix_len(face, size, max, rest);
                    lines.push(rest[..cut].to_owned());
                    rest = &rest[cut..];
                    if lines.len() == max_lines {
                        truncated = true;
                        break 'paragraphs;
                    }
                }
                current = rest.to_owned();
            }
            if !current.is_empty() {
                if lines.len() == max_lines {
                    truncated = true;
                    break;
                }
                lines.push(current);
            }
        }
        if truncated && let Some(last) = lines.last_mut() {
            let marked = format!("{last}{ELLIPSIS}");
            *last = self.ellipsize(face, size, max, &marked);
            if !last.ends_with(ELLIPSIS) {
                last.push(ELLIPSIS);
            }
        }
        lines
    }

    /// Byte length of the longest prefix of `text` (at least one character) that fits in `max`.
    fn fitting_prefix_len(&self, face: Face, size: f32, max: f32, text: &str) -> usize {
        let f = self.face(face);
        let mut used = 0.0;
        let mut end = 0;
        for (i, c) in text.char_indices() {
            used += f.advance_milli(c) as f32 * size / 1000.0;
            if used > max && i > 0 {
                return i;
            }
            end = i + c.len_utf8();
        }
        end
    }
}

/// Whether every text `pages` draw in `face` is within [`in_common_set`].
#[cfg(test)]
pub(super) fn draws_only_common(pages: &[Vec<Op>], face: Face) -> bool {
    draws_only(pages, face, in_common_set)
}

/// Whether every text `pages` draw in `face` is within `set`.
pub(super) fn draws_only(pages: &[Vec<Op>], face: Face, set: fn(char) -> bool) -> bool {
    let id = face.id();
    let mut current = false;
    for op in pages.iter().flatten() {
        match op {
            Op::SetFont { font: PdfFontHandle::External(f), .. } => current = *f == id,
            Op::ShowText { items } if current => {
                let common = items.iter().all(|i| match i {
                    TextItem::Text(t) => t.chars().all(set),
                    TextItem::Offset(_) => true,
                    // Glyph ids of the whole face mean nothing in the cut.
                    TextItem::GlyphIds(_) => false,
                });
                if !common {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}
