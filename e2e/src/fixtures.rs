//! Small shared test inputs: a PNG, a resource-field spec, a stored media file, and a wait for a
//! fresh rate-limit window.

use common::catalog::resource_fields::{FieldSpec, FieldType};

use crate::TestApp;

/// A `w`×`h` PNG of one colour.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(w, h, image::Rgb([10, 120, 200]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode a PNG");
    out
}

/// A required resource field named `name` of type `kind`, first, without limits.
pub fn field_spec(name: &str, kind: FieldType) -> FieldSpec {
    FieldSpec {
        field_name: name.to_string(),
        field_type: kind,
        is_required: true,
        order: 0,
        help_text: String::new(),
        max_file_size_mb: None,
        max_length: None,
        min_value: None,
        max_value: None,
        allowed_extensions: Vec::new(),
    }
}

/// Writes a file under `MEDIA_DIR/<dir>/` with a random name; returns its storage key.
pub fn write_media(app: &TestApp, dir: &str, ext: &str, bytes: &[u8]) -> String {
    let key = format!("{dir}/{}.{ext}", uuid::Uuid::new_v4().simple());
    let path = app.cfg.media_dir.join(&key);
    std::fs::create_dir_all(path.parent().expect("a directory")).expect("create the media directory");
    std::fs::write(path, bytes).expect("write the media file");
    key
}

/// Fixed windows restart on the minute (and hour): waits until a burst can start well inside one.
pub async fn inside_one_window() {
    use chrono::Timelike;
    loop {
        let now = chrono::Utc::now();
        if now.second() < 45 && !(now.minute() == 59 && now.second() >= 30) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
