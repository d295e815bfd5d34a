//! Plain-text tables for the terminal: columns as wide as their widest cell, two spaces apart.

/// The header line, then one line per row, each without trailing spaces.
pub fn lines<const N: usize>(headers: [&str; N], rows: &[[String; N]]) -> Vec<String> {
    let mut widths = headers.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: [&str; N]| -> String {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    std::iter::once(line(headers))
        .chain(
            rows.iter()
                .map(|row| line(row.each_ref().map(String::as_str))),
        )
        .collect()
}
