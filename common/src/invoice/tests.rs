//! Renders documents and reads them back: the text through the fonts' `/ToUnicode` maps
//! (lopdf), the fonts through the PDF objects.

use std::time::Instant;

use super::fonts::{ELLIPSIS, Face, Fonts};
use super::sample::{date, document, line, typical};
use super::*;

/// Renders, insisting printpdf reported no error.
fn pdf(doc: &InvoiceDocument) -> Vec<u8> {
    let (bytes, problems) = render_reporting(doc).unwrap();
    assert!(problems.is_empty(), "printpdf problems: {problems:?}");
    bytes
}

/// Each page's text, whitespace collapsed (a wrapped text reads as one line again).
fn pages_text(bytes: &[u8]) -> Vec<String> {
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF lopdf can read");
    doc.get_pages()
        .keys()
        .map(|n| doc.extract_text(&[*n]).expect("page text").split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    pages_text(bytes).join(" ")
}

#[test]
fn tax_invoice_prints_numbers_parties_lines_and_cgst_sgst_within_the_state() {
    let doc = typical(true);
    let t = text(&pdf(&doc));
    for expected in [
        "Election Cart",
        "Your Complete Election Campaign Solution",
        "TAX INVOICE",
        "Election Cart Private Limited",
        "4th Floor, 12 MG Road",
        "GSTIN: 29ABCDE1234F1Z5",
        "State: Karnataka, State Code: 29",
        "Invoice Number",
        "ECT/26-27/00001",
        "Order Number",
        "ORD-20251103-0042",
        "Invoice Date",
        "November 03, 2025",
        "Order Date",
        "November 02, 2025",
        "Bill To",
        "Asha Rao",
        "GSTIN: 29AAACB1234C1Z9",
        "22 Residency Road",
        "Place of Supply",
        "Karnataka (29)",
        "asha@example.com",
        "+91 98450 12345",
        "Ward Campaign Starter Package",
        "Social Media Campaign – 30 days",
        "Door-to-door Pamphlets (5,000)",
        "HSN/SAC",
        "998361",
        "Taxable",
        "18%",
        "CGST",
        "SGST",
        "₹4,999.00",
        "₹25,000.00",
        "Total Tax",
        "Grand Total",
        "₹40,499.00",
        "Amount in words: Rupees Forty Thousand Four Hundred Ninety Nine Only",
        "Reverse charge: No",
        "Payment Information",
        "Payment Method",
        "Razorpay",
        "Transaction ID",
        "pay_IH4NVgf4Dreq1l",
        "Payment Status",
        "Completed",
        "Payment Date",
        "November 03, 2025 at 02:30 PM",
        "Amount Paid",
        "₹40,499.00 INR",
        "Thank you for your business!",
        "This is a computer-generated invoice and does not require a signature. For any queries, please contact us at support@electioncart.com",
        "Page 1 of 1",
    ] {
        assert!(t.contains(expected), "{expected:?} missing from:\n{t}");
    }
    assert!(!t.contains("IGST"), "an intra-state invoice shows no IGST:\n{t}");
    // The taxes add up as printed: 18% backed out of ₹40,499.00.
    let totals = &doc.totals;
    assert_eq!(totals.taxable.0 + totals.tax.0, totals.total.0);
    assert!(t.contains(&format::inr(totals.cgst)) && t.contains(&format::inr(totals.taxable)));
}

#[test]
fn inter_state_buyer_gets_igst() {
    let doc = typical(false);
    let t = text(&pdf(&doc));
    assert!(t.contains("IGST"), "{t}");
    assert!(t.contains(&format::inr(doc.totals.igst)), "{t}");
    assert!(!t.contains("CGST") && !t.contains("SGST"), "an inter-state invoice shows no CGST/SGST:\n{t}");
    assert!(t.contains("Maharashtra (27)") && t.contains("State: Maharashtra, State Code: 27"), "{t}");
}

#[test]
fn amount_in_words_small_lakh_and_crore() {
    for (paise, amount, words) in [
        (50, "₹0.50", "Rupees Zero and Fifty Paise Only"),
        (10_000_000, "₹1,00,000.00", "Rupees One Lakh Only"),
        (
            12_345_678_910,
            "₹12,34,56,789.10",
            "Rupees Twelve Crore Thirty Four Lakh Fifty Six Thousand Seven Hundred Eighty Nine and Ten Paise Only",
        ),
    ] {
        let mut doc = document(true, vec![line("Custom order", "Package", paise, 1, true)]);
        doc.payment = None;
        let t = text(&pdf(&doc));
        assert_eq!(doc.totals.total, Money(paise));
        assert!(t.contains(&format!("Amount in words: {words}")), "{words:?} missing from:\n{t}");
        assert!(t.contains(&format!("Grand Total {amount}")), "{amount} missing from:\n{t}");
        // Without a payment: the order status and the amount (§7.10).
        assert!(t.contains("Payment Status Completed") && t.contains(&format!("Amount {amount} INR")), "{t}");
        assert!(!t.contains("Transaction ID"), "{t}");
    }
}

#[test]
fn without_seller_gstin_it_is_an_invoice_without_tax_columns() {
    let mut doc = document(
        true,
        vec![Line {
            description: "Ward Campaign Starter Package".into(),
            item_type: "Package".into(),
            hsn_sac: String::new(),
            quantity: 2,
            unit_price: Money(499_900),
            taxable: Money(999_800),
            gst_rate: "0.00".into(),
            cgst: Money(0),
            sgst: Money(0),
            igst: Money(0),
            total: Money(999_800),
        }],
    );
    doc.kind = DocumentKind::Invoice;
    doc.number = "INV-ORD-20251103-0042".into();
    doc.seller.gstin = None;
    let t = text(&pdf(&doc));
    assert!(t.contains("INVOICE") && !t.contains("TAX INVOICE"), "{t}");
    for expected in ["INV-ORD-20251103-0042", "Item", "Type", "Quantity", "Unit Price", "Subtotal", "₹9,998.00"] {
        assert!(t.contains(expected), "{expected:?} missing from:\n{t}");
    }
    for absent in ["GSTIN: 29ABCDE", "CGST", "IGST", "HSN/SAC", "Reverse charge", "Grand Total"] {
        assert!(!t.contains(absent), "{absent:?} should not be in:\n{t}");
    }
}

#[test]
fn credit_note_names_the_original_invoice() {
    let mut doc = typical(true);
    doc.kind = DocumentKind::CreditNote { original_number: "ECT/26-27/00001".into(), original_date: date(2025, 11, 3) };
    doc.number = "ECN/26-27/00001".into();
    doc.issued_on = date(2025, 11, 20);
    let t = text(&pdf(&doc));
    for expected in [
        "CREDIT NOTE",
        "Against invoice ECT/26-27/00001 dated November 03, 2025",
        "Credit Note Number",
        "ECN/26-27/00001",
        "Credit Note Date",
        "November 20, 2025",
        "Original Invoice",
        "This is a computer-generated credit note and does not require a signature.",
    ] {
        assert!(t.contains(expected), "{expected:?} missing from:\n{t}");
    }
    assert!(!t.contains("TAX INVOICE"), "{t}");
    assert_eq!(file_name(&doc), "CreditNote-ECN-26-27-00001-20251120.pdf");
}

/// The font programs of a PDF: (font name, embedded font program size).
fn embedded_fonts(bytes: &[u8]) -> Vec<(String, usize)> {
    let doc = lopdf::Document::load_mem(bytes).unwrap();
    let mut found = Vec::new();
    for object in doc.objects.values() {
        let Ok(dict) = object.as_dict() else { continue };
        if dict.get(b"Type").and_then(|t| t.as_name()).ok() != Some(b"FontDescriptor".as_slice()) {
            continue;
        }
        let name = String::from_utf8_lossy(dict.get(b"FontName").unwrap().as_name().unwrap()).into_owned();
        let file = dict.get_deref(b"FontFile2", &doc).expect("a FontFile2 stream").as_stream().unwrap();
        let program = file.decompressed_content().unwrap_or_else(|_| file.content.clone());
        found.push((name, program.len()));
    }
    found.sort();
    found
}

#[test]
fn fonts_are_embedded_and_subset() {
    let bytes = pdf(&typical(true));
    let fonts = embedded_fonts(&bytes);
    assert_eq!(fonts.len(), 2, "{fonts:?}");
    assert_eq!(fonts[0].0, "ECBOLD+DejaVuSans-Bold");
    assert_eq!(fonts[1].0, "ECREGU+DejaVuSans");
    let full = include_bytes!("../../assets/fonts/DejaVuSans.ttf").len();
    for (name, size) in &fonts {
        assert!(*size > 1_000 && *size < full / 10, "{name}: {size} bytes embedded, the whole font is {full}");
    }
    assert!(bytes.len() < 60_000, "{} bytes", bytes.len());
    // The rupee sign is a real glyph with a Unicode mapping, so it reads back.
    assert!(text(&bytes).contains('₹'));
}

#[test]
fn each_face_is_cut_to_the_common_set_with_the_same_glyphs() {
    let fonts = Fonts::get().unwrap();
    for face in [Face::Regular, Face::Bold] {
        let loaded = fonts.face(face);
        let (whole, cut) = (&loaded.font, &loaded.common);
        assert!(cut.num_glyphs * 5 < whole.num_glyphs, "{face:?}: {} of {} glyphs", cut.num_glyphs, whole.num_glyphs);
        let mut checked = 0;
        for c in (' '..='\u{20cf}').filter(|&c| super::fonts::in_common_set(c)) {
            let Some(w) = whole.lookup_glyph_index(u32::from(c)) else { continue };
            let k = cut.lookup_glyph_index(u32::from(c)).unwrap_or_else(|| panic!("{face:?} lost {c:?}"));
            let (w, k) = (whole.get_or_decode_glyph(w).unwrap(), cut.get_or_decode_glyph(k).unwrap());
            assert_eq!(w.horz_advance, k.horz_advance, "{face:?} {c:?}");
            assert_eq!(format!("{:?}", w.outline), format!("{:?}", k.outline), "{face:?} {c:?} drawn differently");
            checked += 1;
        }
        assert!(checked > 300, "{checked} characters checked");
        assert!(
            cut.lookup_glyph_index(u32::from('₹')).is_some() && cut.lookup_glyph_index(u32::from(ELLIPSIS)).is_some()
        );
    }
}

/// The raw (still deflated) font programs of a PDF.
fn raw_font_programs(bytes: &[u8]) -> Vec<Vec<u8>> {
    let doc = lopdf::Document::load_mem(bytes).unwrap();
    let mut found = Vec::new();
    for object in doc.objects.values() {
        let Ok(dict) = object.as_dict() else { continue };
        if let Ok(file) = dict.get_deref(b"FontFile2", &doc) {
            found.push(file.as_stream().unwrap().content.clone());
        }
    }
    found
}

#[test]
fn a_document_in_the_core_set_embeds_the_core_cuts_deflated_once() {
    let fonts = Fonts::get().unwrap();
    for face in [Face::Regular, Face::Bold] {
        let core = &fonts.face(face).core;
        assert!(core.font.num_glyphs < fonts.face(face).common.num_glyphs);
        assert!(
            core.deflated.len() < core.program.len(),
            "{face:?}: {} deflated, {} bytes",
            core.deflated.len(),
            core.program.len()
        );
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(core.deflated.as_slice()), &mut inflated)
            .unwrap();
        assert!(inflated == core.program, "{face:?}: the deflated program inflates back to the cut");
        for c in (' '..='\u{20cf}').filter(|&c| super::fonts::in_core_set(c)) {
            let whole = fonts.face(face).font.lookup_glyph_index(u32::from(c)).unwrap();
            let cut = core.font.lookup_glyph_index(u32::from(c)).unwrap_or_else(|| panic!("{face:?} lost {c:?}"));
            let (w, k) = (
                fonts.face(face).font.get_or_decode_glyph(whole).unwrap(),
                core.font.get_or_decode_glyph(cut).unwrap(),
            );
            assert_eq!(w.horz_advance, k.horz_advance, "{face:?} {c:?}");
            assert_eq!(format!("{:?}", w.outline), format!("{:?}", k.outline), "{face:?} {c:?} drawn differently");
        }
    }

    // The typical invoice: both faces embed their core cut's program as deflated once.
    let bytes = pdf(&typical(true));
    let programs = raw_font_programs(&bytes);
    assert_eq!(programs.len(), 2);
    for face in [Face::Regular, Face::Bold] {
        assert!(programs.contains(&fonts.face(face).core.deflated), "{face:?} embeds its core cut");
    }
    assert_eq!(pdf(&typical(true)), bytes, "same document, same bytes");

    // An accent outside the core set: that face is subset from the common cut instead, and
    // the text still reads back.
    let mut accented = typical(true);
    accented.buyer.name = "Zoë Désai".into();
    let pages = compose::compose(fonts, &accented);
    let faces = [Face::Regular, Face::Bold];
    let outside: Vec<Face> =
        faces.into_iter().filter(|&f| !super::fonts::draws_only(&pages, f, super::fonts::in_core_set)).collect();
    assert_eq!(outside.len(), 1, "{outside:?}");
    let bytes = pdf(&accented);
    let programs = raw_font_programs(&bytes);
    for face in faces {
        assert_eq!(programs.contains(&fonts.face(face).core.deflated), !outside.contains(&face), "{face:?}");
    }
    assert!(text(&bytes).contains("Zoë Désai"));
    let names: Vec<String> = embedded_fonts(&bytes).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["ECBOLD+DejaVuSans-Bold", "ECREGU+DejaVuSans"]);
}

#[test]
fn a_document_outside_the_common_set_is_subset_from_the_whole_face() {
    let fonts = Fonts::get().unwrap();
    let typical = typical(true);
    let pages = compose::compose(fonts, &typical);
    assert!(super::fonts::draws_only_common(&pages, Face::Regular));
    assert!(super::fonts::draws_only_common(&pages, Face::Bold));

    let mut greek = typical.clone();
    greek.buyer.name = "Αθηνά Ραο".into();
    let pages = compose::compose(fonts, &greek);
    assert!(
        !super::fonts::draws_only_common(&pages, Face::Regular) || !super::fonts::draws_only_common(&pages, Face::Bold)
    );
    let bytes = pdf(&greek);
    let t = text(&bytes);
    assert!(t.contains("Αθηνά Ραο") && t.contains('₹'), "{t}");
    assert_eq!(embedded_fonts(&bytes).len(), 2);
}

#[test]
fn forty_lines_span_pages_with_the_header_repeated() {
    let lines: Vec<Line> = (1..=40)
        .map(|i| {
            line(
                &format!("Campaign item {i:02}"),
                if i % 2 == 0 { "Package" } else { "Campaign" },
                100_000 + i,
                1,
                true,
            )
        })
        .collect();
    let doc = document(true, lines);
    let pages = pages_text(&pdf(&doc));
    assert!(pages.len() > 1, "{} page(s)", pages.len());
    let all = pages.join(" ");
    for i in 1..=40 {
        let description = format!("Campaign item {i:02}");
        assert_eq!(all.matches(&description).count(), 1, "{description} once");
    }
    let m = pages.len();
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains(&format!("Page {} of {m}", i + 1)), "page {}: {page}", i + 1);
        assert!(page.contains("HSN/SAC") || i == m - 1, "table header on page {}: {page}", i + 1);
        if i > 0 {
            assert!(page.contains("TAX INVOICE ECT/26-27/00001 (continued)"), "page {}: {page}", i + 1);
        }
    }
    assert!(all.contains("Grand Total") && all.contains("Thank you for your business!"));
}

#[test]
fn long_texts_wrap_or_end_with_an_ellipsis() {
    let long = "Comprehensive Assembly Constituency Campaign Management Package with Rallies, Social Media, \
                Door-to-door Outreach, Printed Material, Volunteer Coordination, Polling Booth Agents and Daily Reports \
                for the Entire Campaign Period";
    let mut doc = document(true, vec![line(long, "Package", 9_999_900, 1, true)]);
    doc.lines[0].item_type = "Campaign Management Services".into();
    let t = text(&pdf(&doc));
    assert!(t.contains("Comprehensive Assembly Constituency"), "{t}");
    assert!(!t.contains("Campaign Management Services"), "the type is cut: {t}");
    assert!(t.contains(ELLIPSIS), "cut texts end with an ellipsis: {t}");
    assert!(!t.contains("for the Entire Campaign Period"), "at most three lines of description: {t}");

    // Crores in every amount column: the columns narrow, the amounts shrink, none is cut.
    let doc = document(false, vec![line("Custom order", "Package", 12_345_678_910, 1, false)]);
    let t = text(&pdf(&doc));
    let igst = format::inr(doc.totals.igst);
    assert_eq!(t.matches(&igst).count(), 3, "{igst} in the row, IGST and Total Tax: {t}");
    assert!(t.contains("Custom order Package 998361"), "{t}");
    assert_eq!(t.matches("₹12,34,56,789.10").count(), 4, "unit price, row total, grand total, paid: {t}");
    assert!(t.contains("18%"), "{t}");

    let fonts = Fonts::get().unwrap();
    for max in [40.0, 120.0, 300.0] {
        let lines = fonts.wrap(Face::Regular, 8.0, max, long, 3);
        assert_eq!(lines.len(), 3);
        for l in &lines {
            assert!(fonts.width(Face::Regular, 8.0, l) <= max + 0.01, "{l:?} wider than {max}");
        }
        assert!(lines[2].ends_with(ELLIPSIS));
        let cut = fonts.ellipsize(Face::Bold, 9.0, max, long);
        assert!(fonts.width(Face::Bold, 9.0, &cut) <= max + 0.01 && cut.ends_with(ELLIPSIS));
    }
    assert_eq!(fonts.wrap(Face::Regular, 8.0, 300.0, "short one", 3), vec!["short one"]);
    assert_eq!(fonts.wrap(Face::Regular, 8.0, 300.0, "two\nlines", 3), vec!["two", "lines"]);
    assert_eq!(fonts.ellipsize(Face::Regular, 8.0, 300.0, "fits"), "fits");
}

#[test]
fn long_values_shrink_before_they_are_cut_and_long_names_wrap() {
    let mut doc = typical(true);
    doc.buyer.email = Some("campaign.office.of.the.candidate.for.ward.42@example-party.org.in".into());
    doc.seller.name = "Election Cart Campaign Services and Political Communications Private Limited".into();
    let t = text(&pdf(&doc));
    assert!(t.contains("campaign.office.of.the.candidate.for.ward.42@example-party.org.in"), "{t}");
    assert!(t.contains("Election Cart Campaign Services and Political Communications Private Limited"), "{t}");
}

#[test]
fn a_document_without_lines_still_renders() {
    let mut doc = document(true, Vec::new());
    doc.payment = None;
    doc.buyer = Buyer {
        name: "walkin".into(),
        gstin: None,
        address: String::new(),
        state_code: String::new(),
        state_name: String::new(),
        place_of_supply: String::new(),
        email: None,
        phone: None,
    };
    let t = text(&pdf(&doc));
    for expected in
        ["TAX INVOICE", "Bill To", "walkin", "Email N/A", "Phone N/A", "Grand Total ₹0.00", "Rupees Zero Only"]
    {
        assert!(t.contains(expected), "{expected:?} missing from:\n{t}");
    }
}

#[test]
fn widths_come_from_the_glyph_advances() {
    let fonts = Fonts::get().unwrap();
    // DejaVu Sans digits are 1303/2048 em wide (0.636 em, truncated to 636/1000 as in /W).
    let digit = fonts.width(Face::Regular, 10.0, "0");
    assert!((digit - 6.36).abs() < 0.01, "{digit}");
    assert!((fonts.width(Face::Regular, 10.0, "00") - 2.0 * digit).abs() < 1e-4);
    assert!(fonts.width(Face::Bold, 10.0, "Total") > fonts.width(Face::Regular, 10.0, "Total"));
    assert!(fonts.width(Face::Regular, 10.0, "₹") > 0.0);
    assert!(fonts.width(Face::Regular, 10.0, "iiii") < fonts.width(Face::Regular, 10.0, "MMMM"));
}

#[test]
fn characters_the_font_lacks_do_not_fail_the_render() {
    let mut doc = typical(true);
    doc.buyer.name = "आशा राव (Asha Rao)".into();
    let t = text(&pdf(&doc));
    assert!(t.contains("(Asha Rao)"), "{t}");
}

#[test]
fn same_document_same_text_and_bytes_even_through_its_snapshot() {
    let doc = typical(true);
    let first = pdf(&doc);
    assert_eq!(pdf(&doc), first);
    let snapshot = serde_json::to_value(&doc).unwrap();
    let restored: InvoiceDocument = serde_json::from_value(snapshot).unwrap();
    assert_eq!(restored, doc);
    assert_eq!(text(&pdf(&restored)), text(&first));
    assert_eq!(pdf(&restored), first);
    // Another document gets another trailer ID.
    let mut other = doc.clone();
    other.number = "ECT/26-27/00002".into();
    assert_ne!(document_id(&other), document_id(&doc));
}

#[test]
fn snapshot_shape() {
    let doc = typical(true);
    let v = serde_json::to_value(&doc).unwrap();
    assert_eq!(v["kind"], serde_json::json!({"type": "tax_invoice"}));
    assert_eq!(v["issued_on"], "2025-11-03");
    assert_eq!(v["lines"][0]["unit_price"], 499_900);
    assert_eq!(v["totals"]["total"], doc.totals.total.0);
    assert_eq!(v["payment"]["paid_at"], "2025-11-03T09:00:00Z");
    let credit =
        DocumentKind::CreditNote { original_number: "ECT/26-27/00001".into(), original_date: date(2025, 11, 3) };
    assert_eq!(
        serde_json::to_value(&credit).unwrap(),
        serde_json::json!({"type": "credit_note", "original_number": "ECT/26-27/00001", "original_date": "2025-11-03"})
    );
    // Older snapshots without the optional fields still load.
    let mut v = v;
    v.as_object_mut().unwrap().remove("order_status_label");
    v["payment"].as_object_mut().unwrap().remove("currency");
    let back: InvoiceDocument = serde_json::from_value(v).unwrap();
    assert_eq!(back.payment.unwrap().currency, "INR");
}

#[test]
fn file_names() {
    let mut doc = typical(true);
    assert_eq!(file_name(&doc), "Invoice-ECT-26-27-00001-20251103.pdf");
    doc.number = "INV-ORD 12/\"x\"".into();
    assert_eq!(file_name(&doc), "Invoice-INV-ORD-12--x--20251103.pdf");
}

/// Cross-check with poppler's reader when it is installed (it is not required).
#[test]
fn pdftotext_reads_it_too() {
    let path = std::env::temp_dir().join(format!("invoice-test-{}.pdf", std::process::id()));
    std::fs::write(&path, pdf(&typical(true))).unwrap();
    let output = std::process::Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output();
    let _ = std::fs::remove_file(&path);
    let Ok(output) = output else {
        eprintln!("SKIPPED pdftotext_reads_it_too: pdftotext not installed (apt-get install poppler-utils)");
        return;
    };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let t = String::from_utf8(output.stdout).unwrap();
    for expected in ["TAX INVOICE", "ECT/26-27/00001", "GSTIN: 29ABCDE1234F1Z5", "₹40,499.00", "Page 1 of 1"] {
        assert!(t.contains(expected), "{expected:?} missing from:\n{t}");
    }
}

/// `cargo test -p common --release --lib invoice::tests::render_benchmark -- --ignored --nocapture`
///
/// Renders the typical invoice 1,000 times on this thread and prints the median time and the
/// size, at the deflate level used and at others for comparison.
#[test]
#[ignore = "benchmark: run explicitly"]
fn render_benchmark() {
    let doc = typical(true);
    let forty = document(true, (1..=40).map(|i| line(&format!("Item {i}"), "Package", 100_000, 1, true)).collect());
    let start = Instant::now();
    let _ = render(&doc).unwrap();
    println!("first render in this process (parses the fonts): {:.3} ms", start.elapsed().as_secs_f64() * 1000.0);
    let mut levels = vec![DEFLATE_LEVEL, 1, 6, 9];
    levels.sort_unstable();
    levels.dedup();
    for level in levels {
        let size = render_at(&doc, level).unwrap().0.len();
        let mut times: Vec<f64> = (0..1_000)
            .map(|_| {
                let start = Instant::now();
                let (bytes, _) = render_at(&doc, level).unwrap();
                let elapsed = start.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(bytes.len(), size);
                elapsed
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "deflate level {level}{}: typical invoice ({} lines) median {:.3} ms, p90 {:.3} ms, min {:.3} ms, {size} bytes; 40 lines {} bytes",
            if level == DEFLATE_LEVEL { " (used)" } else { "" },
            doc.lines.len(),
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[0],
            render_at(&forty, level).unwrap().0.len(),
        );
    }

    // Where the time goes, phase by phase (medians).
    let fonts = Fonts::get().unwrap();
    let mut phases: [Vec<f64>; 4] = Default::default();
    for _ in 0..1_000 {
        let mut lap = Instant::now();
        let mut mark = |i: usize, phases: &mut [Vec<f64>; 4]| {
            phases[i].push(lap.elapsed().as_secs_f64() * 1000.0);
            lap = Instant::now();
        };
        let pdf = pdf_document(fonts, &doc);
        mark(0, &mut phases);
        let mut out = printpdf::to_lopdf_doc(&pdf, &save_options(), &mut Vec::new());
        finish(&mut out, fonts, &doc);
        mark(1, &mut phases);
        compress_streams(&mut out, fonts, DEFLATE_LEVEL).unwrap();
        mark(2, &mut phases);
        out.save_to(&mut Vec::new()).unwrap();
        mark(3, &mut phases);
    }
    let names =
        ["layout and printpdf document", "printpdf to lopdf (font subsetting, content streams)", "deflate", "write"];
    for (name, mut times) in names.into_iter().zip(phases) {
        times.sort_by(f64::total_cmp);
        println!("  {name}: median {:.3} ms", times[times.len() / 2]);
    }
}

/// Writes sample PDFs to look at (`pdftoppm -png`, a viewer):
/// `cargo test -p common invoice::tests::write_samples -- --ignored --nocapture`
#[test]
#[ignore = "writes files: run explicitly"]
fn write_samples() {
    let dir = std::env::temp_dir().join("invoice-samples");
    std::fs::create_dir_all(&dir).unwrap();
    let mut credit = typical(false);
    credit.kind =
        DocumentKind::CreditNote { original_number: "ECT/26-27/00001".into(), original_date: date(2025, 11, 3) };
    credit.number = "ECN/26-27/00001".into();
    let long = document(
        true,
        (1..=40)
            .map(|i| {
                let description = if i % 7 == 0 {
                    format!("Item {i}: Comprehensive Assembly Constituency Campaign Management Package with Rallies, Social Media and Door-to-door Outreach for the Entire Campaign Period")
                } else {
                    format!("Campaign item {i:02}")
                };
                line(&description, if i % 2 == 0 { "Package" } else { "Campaign" }, 100_000 * i, i % 3 + 1, true)
            })
            .collect(),
    );
    let mut edge = document(false, vec![line("Custom order", "Package", 12_345_678_910, 1, false)]);
    edge.kind = DocumentKind::Invoice;
    edge.seller.gstin = None;
    edge.seller.name = "Election Cart Campaign Services and Political Communications Private Limited".into();
    edge.buyer.email = Some("campaign.office.of.the.candidate.for.ward.42@example-party.org.in".into());
    edge.buyer.name = "आशा राव (Asha Rao)".into();
    edge.payment = None;
    edge.lines[0].description = "Comprehensive Assembly Constituency Campaign Management Package with Rallies, Social Media, Door-to-door Outreach, Printed Material, Volunteer Coordination, Polling Booth Agents and Daily Reports".into();
    edge.lines[0].item_type = "Campaign Management Services".into();
    let samples =
        [("intra", typical(true)), ("inter", typical(false)), ("credit", credit), ("forty", long), ("edge", edge)];
    for (name, doc) in samples {
        let path = dir.join(format!("{name}.pdf"));
        std::fs::write(&path, pdf(&doc)).unwrap();
        println!("{}", path.display());
    }
}
