//! CSV exports of back office tables: UTF-8 with a BOM (so Excel opens Chinese text correctly),
//! and cells that a spreadsheet would run as a formula are defused with a leading apostrophe.

use actix_web::HttpResponse;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};

pub struct Csv {
    writer: csv::Writer<Vec<u8>>,
}

impl Csv {
    pub fn new(header: &[&str]) -> Csv {
        let mut csv = Csv { writer: csv::Writer::from_writer("\u{feff}".as_bytes().to_vec()) };
        csv.row(header);
        csv
    }

    /// More rows of a file whose start (BOM and header) was already sent: a streamed export.
    pub fn continuing() -> Csv {
        Csv { writer: csv::Writer::from_writer(Vec::new()) }
    }

    pub fn row(&mut self, cells: &[&str]) {
        let cells = cells.iter().map(|c| defuse(c));
        // Writing into a Vec cannot fail.
        let _ = self.writer.write_record(cells);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner().unwrap_or_default()
    }

    pub fn response(self, file_name: &str) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")))
            .insert_header(("Cache-Control", "no-store"))
            .body(self.into_bytes())
    }
}

fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if cell.parse::<f64>().is_err() => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_commas_and_defuses_formulas() {
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(&["课程, 第一期", "=HYPERLINK(\"x\")"]);
        csv.row(&["-12.30", "@SUM"]);
        let text = String::from_utf8(csv.into_bytes()).unwrap();
        assert_eq!(text, "\u{feff}a,b\n\"课程, 第一期\",\"'=HYPERLINK(\"\"x\"\")\"\n-12.30,'@SUM\n");
    }
}
