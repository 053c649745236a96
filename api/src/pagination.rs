//! DRF's `PageNumberPagination` (API.md §1): `?page=N` (or `last`), 20 rows a page, the envelope
//! `{count, next, previous, results}` with absolute links, `404 {"detail":"Invalid page."}`.
//!
//! Links keep the request's other query parameters, as DRF's `replace_query_param` does: `next`
//! sets `page`, `previous` of page 2 drops it; parameters are percent-encoded and sorted by name.

use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// Rows a page.
pub const PAGE_SIZE: i64 = 20;

/// A requested page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSpec {
    /// 1-based page.
    Number(i64),
    /// `?page=last`.
    Last,
}

fn invalid_page() -> ApiError {
    ApiError::detail(StatusCode::NOT_FOUND, "Invalid page.")
}

impl PageSpec {
    /// Parses `?page` as DRF does (`last` accepted); anything else is 404 "Invalid page.".
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw.map(str::trim) {
            None | Some("") => Ok(PageSpec::Number(1)),
            Some("last") => Ok(PageSpec::Last),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(PageSpec::Number(n)),
                _ => Err(invalid_page()),
            },
        }
    }

    /// The page number for `count` rows: `last` is the last page; a page past the end is 404
    /// "Invalid page." (page 1 always exists).
    pub fn resolve(self, count: i64) -> Result<i64, ApiError> {
        let pages = pages(count);
        match self {
            PageSpec::Last => Ok(pages),
            PageSpec::Number(n) if n <= pages => Ok(n),
            PageSpec::Number(_) => Err(invalid_page()),
        }
    }
}

/// `LIMIT`/`OFFSET` of a page.
pub fn window(page: i64) -> (i64, i64) {
    (PAGE_SIZE, (page - 1) * PAGE_SIZE)
}

fn pages(count: i64) -> i64 {
    ((count + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
}

/// Where a page's links point: the public base URL, the path and the request's query.
#[derive(Debug, Clone)]
pub struct PageLinks<'a> {
    /// `PUBLIC_BASE_URL`.
    pub base: &'a str,
    /// The route's path.
    pub path: &'a str,
    /// The request's raw query, if any.
    pub query: Option<&'a str>,
    /// Whether the link to page 1 keeps `page=1`: on the lists that answer a bare array of every
    /// row when `page` is absent (§1: admin and staff orders, the staff list), so following
    /// `previous` back to page 1 gives a page, not the whole list. Elsewhere DRF's link without
    /// `page`.
    pub explicit_first: bool,
}

impl PageLinks<'_> {
    /// The link to page `n`: the request's other parameters kept, `page` replaced (dropped for
    /// page 1 when it is the previous page, as DRF does).
    fn link(&self, page: Option<i64>) -> String {
        let mut pairs: Vec<(String, String)> = self
            .query
            .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().filter(|(k, _)| k != "page").collect())
            .unwrap_or_default();
        if let Some(n) = page {
            pairs.push(("page".into(), n.to_string()));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if pairs.is_empty() {
            return format!("{}{}", self.base, self.path);
        }
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        format!("{}{}?{query}", self.base, self.path)
    }
}

impl PageLinks<'_> {
    /// Whether a raw query holds a parameter other than `page`.
    pub fn has_other_parameters(query: &str) -> bool {
        url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k != "page")
    }

    /// A link made without the request's query, made again with it: the `page` of `url` kept,
    /// the request's other parameters added.
    pub fn relink(&self, url: &str) -> String {
        let page = url.split_once('?').and_then(|(_, q)| {
            url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "page").and_then(|(_, v)| v.parse().ok())
        });
        self.link(page)
    }
}

/// DRF's page envelope.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    /// Rows in all pages.
    pub count: i64,
    /// Absolute URL of the next page.
    pub next: Option<String>,
    /// Absolute URL of the previous page.
    pub previous: Option<String>,
    /// This page's rows.
    pub results: Vec<T>,
}

impl<T> Page<T> {
    /// Page `page` of `count` rows.
    pub fn new(links: &PageLinks<'_>, page: i64, count: i64, results: Vec<T>) -> Self {
        let last = pages(count);
        Self {
            count,
            next: (page < last).then(|| links.link(Some(page + 1))),
            previous: (page > 1).then(|| links.link((page > 2 || links.explicit_first).then_some(page - 1))),
            results,
        }
    }

    /// The same page with its rows converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            count: self.count,
            next: self.next,
            previous: self.previous,
            results: self.results.into_iter().map(f).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn page(query: Option<&str>, n: i64, count: i64) -> Page<()> {
        let links = PageLinks { base: "http://x.test", path: "/api/notifications/", query, explicit_first: false };
        Page::new(&links, n, count, Vec::new())
    }

    #[test]
    fn links_keep_the_other_parameters_and_replace_page() {
        let p = page(Some("assigned_to=7&page=2&status=in_progress"), 2, 45);
        assert_eq!(p.next.as_deref(), Some("http://x.test/api/notifications/?assigned_to=7&page=3&status=in_progress"));
        assert_eq!(p.previous.as_deref(), Some("http://x.test/api/notifications/?assigned_to=7&status=in_progress"));
        let p = page(Some("page=3&search=a%20b%26c"), 3, 45);
        assert_eq!(p.next, None);
        assert_eq!(p.previous.as_deref(), Some("http://x.test/api/notifications/?page=2&search=a+b%26c"));
        let p = page(None, 1, 21);
        assert_eq!(p.next.as_deref(), Some("http://x.test/api/notifications/?page=2"));
        assert_eq!(p.previous, None);
    }

    #[test]
    fn bare_array_lists_link_back_to_page_one_explicitly() {
        let links = PageLinks {
            base: "http://x.test",
            path: "/api/admin/orders/",
            query: Some("page=2&status=x"),
            explicit_first: true,
        };
        let p: Page<()> = Page::new(&links, 2, 45, Vec::new());
        assert_eq!(p.previous.as_deref(), Some("http://x.test/api/admin/orders/?page=1&status=x"));
    }

    #[test]
    fn links_made_without_the_query_are_made_again_with_it() {
        let links = PageLinks {
            base: "http://x.test",
            path: "/api/packages/",
            query: Some("utm=a%20b&page=2"),
            explicit_first: false,
        };
        assert_eq!(links.relink("http://x.test/api/packages/?page=3"), "http://x.test/api/packages/?page=3&utm=a+b");
        assert_eq!(links.relink("http://x.test/api/packages/"), "http://x.test/api/packages/?utm=a+b");
        assert!(PageLinks::has_other_parameters("page=2&utm=x"));
        assert!(!PageLinks::has_other_parameters("page=2"));
    }

    #[test]
    fn pages_resolve_as_drf() {
        assert_eq!(PageSpec::parse(None).unwrap().resolve(0).unwrap(), 1);
        assert_eq!(PageSpec::parse(Some("last")).unwrap().resolve(41).unwrap(), 3);
        assert!(PageSpec::parse(Some("4")).unwrap().resolve(41).is_err());
        assert!(PageSpec::parse(Some("0")).is_err());
        assert!(PageSpec::parse(Some("x")).is_err());
    }
}
