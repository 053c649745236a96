//! A small block layout for fixed-size pages: a [`Block`] is a group of texts, fills and rules
//! with a known height, laid out from its own top edge; a [`Pager`] stacks blocks down the page
//! and starts a new page (with a repeated header) when the next block does not fit. Then each
//! page becomes printpdf operations.
//!
//! Coordinates are points. Inside a block `dy` grows downwards from the block's top; on the page
//! `y` grows upwards from the bottom edge, as in PDF.

use printpdf::{
    Color, Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, Rect, Rgb, TextItem, TextMatrix, WindingOrder,
};

use super::fonts::{Face, Fonts};

/// US Letter, as the original invoice: 215.9 × 279.4 mm.
pub const PAGE_WIDTH: f32 = 612.0;
/// US Letter height.
pub const PAGE_HEIGHT: f32 = 792.0;
/// Left and right margins.
pub const MARGIN_X: f32 = 40.0;
/// Top margin.
pub const MARGIN_TOP: f32 = 40.0;
/// Nothing but the page footer goes below this line.
pub const CONTENT_BOTTOM: f32 = 52.0;
/// Baseline of the page footer ("Page n of m").
pub const FOOTER_BASELINE: f32 = 30.0;
/// Left edge of the content.
pub const LEFT: f32 = MARGIN_X;
/// Right edge of the content.
pub const RIGHT: f32 = PAGE_WIDTH - MARGIN_X;
/// Width of the content.
pub const CONTENT_WIDTH: f32 = RIGHT - LEFT;

/// An RGB colour, components 0–1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colour(pub f32, pub f32, pub f32);

impl Colour {
    /// Body text.
    pub const TEXT: Colour = Colour(0.13, 0.13, 0.13);
    /// Labels and secondary text.
    pub const MUTED: Colour = Colour(0.40, 0.40, 0.40);
    /// The brand colour: headings and rules.
    pub const BRAND: Colour = Colour(0.10, 0.26, 0.54);
    /// Table header and totals background.
    pub const SHADE: Colour = Colour(0.93, 0.94, 0.96);
    /// Thin rules between rows.
    pub const RULE: Colour = Colour(0.80, 0.80, 0.80);

    fn pdf(self) -> Color {
        Color::Rgb(Rgb::new(self.0, self.1, self.2, None))
    }
}

/// A text style.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Face.
    pub face: Face,
    /// Size in points.
    pub size: f32,
    /// Colour.
    pub colour: Colour,
}

impl Style {
    /// A style.
    pub const fn new(face: Face, size: f32, colour: Colour) -> Style {
        Style { face, size, colour }
    }

    /// The same style at another size.
    pub fn sized(self, size: f32) -> Style {
        Style { size, ..self }
    }
}

/// One thing drawn in a block.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// A single line of text with its baseline `dy` below the block top.
    Text { x: f32, dy: f32, style: Style, text: String },
    /// A filled rectangle whose top edge is `dy` below the block top.
    Fill { x: f32, dy: f32, w: f32, h: f32, colour: Colour },
    /// A horizontal rule.
    Rule { x1: f32, x2: f32, dy: f32, thickness: f32, colour: Colour },
}

/// A group of items with a height, laid out from its own top edge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    items: Vec<Item>,
    /// Height in points.
    pub height: f32,
}

impl Block {
    /// An empty block.
    pub fn new() -> Block {
        Block::default()
    }

    /// Text with its left edge at `x` and its baseline `dy` below the top.
    pub fn text(&mut self, x: f32, dy: f32, style: Style, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.items.push(Item::Text { x, dy, style, text });
        }
    }

    /// Text whose right edge is at `right`, measured from the glyph advances.
    pub fn text_right(&mut self, fonts: &Fonts, right: f32, dy: f32, style: Style, text: impl Into<String>) {
        let text = text.into();
        let x = right - fonts.width(style.face, style.size, &text);
        self.text(x, dy, style, text);
    }

    /// Text centred on `centre`.
    pub fn text_centred(&mut self, fonts: &Fonts, centre: f32, dy: f32, style: Style, text: impl Into<String>) {
        let text = text.into();
        let x = centre - fonts.width(style.face, style.size, &text) / 2.0;
        self.text(x, dy, style, text);
    }

    /// A filled rectangle with its top edge `dy` below the block top.
    pub fn fill(&mut self, x: f32, dy: f32, w: f32, h: f32, colour: Colour) {
        self.items.push(Item::Fill { x, dy, w, h, colour });
    }

    /// A horizontal rule from `x1` to `x2`, `dy` below the block top.
    pub fn rule(&mut self, x1: f32, x2: f32, dy: f32, thickness: f32, colour: Colour) {
        self.items.push(Item::Rule { x1, x2, dy, thickness, colour });
    }

    /// Adds `other`'s items, `dy` below this block's top, and grows to contain it.
    pub fn append(&mut self, other: Block, dy: f32) {
        for item in other.items {
            self.items.push(match item {
                Item::Text { x, dy: d, style, text } => Item::Text { x, dy: d + dy, style, text },
                Item::Fill { x, dy: d, w, h, colour } => Item::Fill { x, dy: d + dy, w, h, colour },
                Item::Rule { x1, x2, dy: d, thickness, colour } => Item::Rule { x1, x2, dy: d + dy, thickness, colour },
            });
        }
        self.height = self.height.max(dy + other.height);
    }
}

/// Stacks blocks on pages.
pub struct Pager {
    pages: Vec<Vec<(f32, Item)>>,
    /// Top of the free space on the current page.
    y: f32,
    /// Drawn at the top of every page after the first.
    continuation: Block,
    /// Nothing but the continuation header is on the current page yet.
    fresh: bool,
}

impl Pager {
    /// One empty page; `continuation` heads every further page.
    pub fn new(continuation: Block) -> Pager {
        Pager { pages: vec![Vec::new()], y: PAGE_HEIGHT - MARGIN_TOP, continuation, fresh: true }
    }

    /// Whether `height` points fit above the footer on the current page.
    pub fn fits(&self, height: f32) -> bool {
        self.y - height >= CONTENT_BOTTOM
    }

    /// Starts a new page when `height` points do not fit on this one, unless this one is still
    /// fresh (a block taller than a page would not fit on the next one either).
    pub fn ensure(&mut self, height: f32) {
        if !self.fits(height) && !self.fresh {
            self.new_page();
        }
    }

    /// Starts a new page with the continuation header.
    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = PAGE_HEIGHT - MARGIN_TOP;
        let header = self.continuation.clone();
        self.place(&header);
        self.fresh = true;
    }

    /// Leaves `height` points of space (nothing when that reaches the footer).
    pub fn gap(&mut self, height: f32) {
        self.y = (self.y - height).max(CONTENT_BOTTOM);
    }

    /// Draws `block` at the current position and moves below it.
    pub fn place(&mut self, block: &Block) {
        let top = self.y;
        if let Some(page) = self.pages.last_mut() {
            page.extend(block.items.iter().map(|item| (top, item.clone())));
        }
        self.y -= block.height;
        self.fresh = false;
    }

    /// Number of pages so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Draws `block` on page `index` (0-based) with its top at `top`, whatever is there.
    pub fn overlay(&mut self, index: usize, top: f32, block: &Block) {
        if let Some(page) = self.pages.get_mut(index) {
            page.extend(block.items.iter().map(|item| (top, item.clone())));
        }
    }

    /// The pages' drawing operations.
    pub fn into_ops(self) -> Vec<Vec<Op>> {
        self.pages.into_iter().map(page_ops).collect()
    }
}

/// Rounds to hundredths of a point: plenty for print, and short in the content stream.
fn r(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// Turns placed items into operations. Every text run is its own text object (BT … ET), which
/// keeps graphics outside text objects and gives text extractors one line per run; the font and
/// fill colour are set only when they change.
fn page_ops(items: Vec<(f32, Item)>) -> Vec<Op> {
    let mut ops = Vec::with_capacity(items.len() * 5);
    let mut font: Option<(Face, f32)> = None;
    let mut fill: Option<Colour> = None;
    let mut stroke: Option<(Colour, f32)> = None;
    for (top, item) in items {
        match item {
            Item::Text { x, dy, style, text } => {
                if fill != Some(style.colour) {
                    ops.push(Op::SetFillColor { col: style.colour.pdf() });
                    fill = Some(style.colour);
                }
                ops.push(Op::StartTextSection);
                if font != Some((style.face, style.size)) {
                    ops.push(Op::SetFont { font: PdfFontHandle::External(style.face.id()), size: Pt(r(style.size)) });
                    font = Some((style.face, style.size));
                }
                ops.push(Op::SetTextMatrix { matrix: TextMatrix::Translate(Pt(r(x)), Pt(r(top - dy))) });
                ops.push(Op::ShowText { items: vec![TextItem::Text(text)] });
                ops.push(Op::EndTextSection);
            }
            Item::Fill { x, dy, w, h, colour } => {
                if fill != Some(colour) {
                    ops.push(Op::SetFillColor { col: colour.pdf() });
                    fill = Some(colour);
                }
                ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Pt(r(x)),
                        y: Pt(r(top - dy - h)),
                        width: Pt(r(w)),
                        height: Pt(r(h)),
                        mode: Some(PaintMode::Fill),
                        winding_order: Some(WindingOrder::NonZero),
                    },
                });
            }
            Item::Rule { x1, x2, dy, thickness, colour } => {
                if stroke != Some((colour, thickness)) {
                    ops.push(Op::SetOutlineColor { col: colour.pdf() });
                    ops.push(Op::SetOutlineThickness { pt: Pt(r(thickness)) });
                    stroke = Some((colour, thickness));
                }
                let y = Pt(r(top - dy));
                let point = |x: f32| LinePoint { p: Point { x: Pt(r(x)), y }, bezier: false };
                ops.push(Op::DrawLine { line: Line { points: vec![point(x1), point(x2)], is_closed: false } });
            }
        }
    }
    ops
}
