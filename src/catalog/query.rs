//! Catalog search: category filter, keywords over title and subtitle, sort, pagination.
//! Pure functions over the in-memory catalog; the query string is read leniently (a GET never
//! fails on a bad parameter, it falls back to the default).

use std::sync::Arc;

use super::{Catalog, Course};

pub const PER_PAGE: usize = 12;
const MAX_QUERY_CHARS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Newest,
    Popular,
    PriceAsc,
    PriceDesc,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Newest, Sort::Popular, Sort::PriceAsc, Sort::PriceDesc];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Popular => "popular",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Sort::Newest => "sort_newest",
            Sort::Popular => "sort_popular",
            Sort::PriceAsc => "sort_price_asc",
            Sort::PriceDesc => "sort_price_desc",
        }
    }

    fn parse(value: &str) -> Sort {
        Sort::ALL.into_iter().find(|s| s.as_str() == value).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogQuery {
    pub category: Option<String>,
    pub q: String,
    pub sort: Sort,
    pub page: usize,
}

impl Default for CatalogQuery {
    fn default() -> Self {
        CatalogQuery { category: None, q: String::new(), sort: Sort::default(), page: 1 }
    }
}

impl CatalogQuery {
    /// Reads `?category=&q=&sort=&page=` from a raw query string.
    pub fn parse(query_string: &str) -> CatalogQuery {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query_string).unwrap_or_default();
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
        CatalogQuery {
            category: get("category").filter(|c| !c.is_empty()),
            q: get("q").map(|q| q.chars().take(MAX_QUERY_CHARS).collect()).unwrap_or_default(),
            sort: get("sort").map(|s| Sort::parse(&s)).unwrap_or_default(),
            page: get("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1),
        }
    }

    /// The query string for this search at another page (or another sort / category), without
    /// defaults, so links stay short and canonical.
    pub fn href(&self, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(c) = &self.category {
            pairs.push(("category", c.clone()));
        }
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if self.sort != Sort::Newest {
            pairs.push(("sort", self.sort.as_str().to_string()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if qs.is_empty() { "/courses".to_string() } else { format!("/courses?{qs}") }
    }

    pub fn with_sort(&self, sort: Sort) -> CatalogQuery {
        CatalogQuery { sort, page: 1, ..self.clone() }
    }

    pub fn with_category(&self, category: Option<&str>) -> CatalogQuery {
        CatalogQuery { category: category.map(String::from), page: 1, ..self.clone() }
    }
}

#[derive(Debug)]
pub struct ResultPage {
    pub items: Vec<Arc<Course>>,
    pub total: usize,
    pub page: usize,
    pub total_pages: usize,
}

pub fn search(catalog: &Catalog, query: &CatalogQuery, per_page: usize) -> ResultPage {
    let words: Vec<String> = query.q.split_whitespace().map(str::to_lowercase).collect();
    let mut found: Vec<Arc<Course>> = catalog
        .courses
        .iter()
        .filter(|c| query.category.as_deref().is_none_or(|slug| c.category.slug == slug))
        .filter(|c| {
            let text = format!("{} {}", c.title, c.subtitle).to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .cloned()
        .collect();
    // `catalog.courses` is newest first, and the sort is stable, so ties stay newest first.
    match query.sort {
        Sort::Newest => {}
        Sort::Popular => found.sort_by_key(|c| std::cmp::Reverse(c.learner_count())),
        Sort::PriceAsc => found.sort_by_key(|a| a.price),
        Sort::PriceDesc => found.sort_by_key(|c| std::cmp::Reverse(c.price)),
    }
    let total = found.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let items = found.into_iter().skip(query.page.saturating_sub(1).saturating_mul(per_page)).take(per_page).collect();
    ResultPage { items, total, page: query.page, total_pages }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Category, Instructor};
    use crate::domain::refund_terms::RefundTerms;
    use crate::domain::{Fen, ProductKind};

    fn course(id: i64, cat: &str, title: &str, price: i64, learners: i64) -> Arc<Course> {
        Arc::new(Course {
            id: crate::domain::CourseId(id),
            slug: format!("c{id}"),
            kind: ProductKind::Recorded,
            category: Category { id: crate::domain::CategoryId(1), slug: cat.into(), name: cat.into() },
            instructor: Arc::new(Instructor {
                id: crate::domain::InstructorId(1),
                name: "T".into(),
                title: "".into(),
                bio: "".into(),
                avatar_url: "".into(),
            }),
            title: title.into(),
            subtitle: format!("subtitle of {title}"),
            description: String::new(),
            cover_url: String::new(),
            price: Fen(price),
            original_price: Fen(price),
            sale_ends_at: None,
            learners: Arc::new(learners.into()),
            outcomes: vec![],
            audience: vec![],
            refund_terms: RefundTerms::default(),
            membership_days: None,
            consult_minutes: None,
            plan: None,
            member_rule: Default::default(),
            rating: Default::default(),
            group: None,
            has_checkin: false,
            featured: false,
            position: 0,
            published: true,
            created_at: id,
            chapters: vec![],
            bundle: vec![],
            column: None,
            cohorts: Vec::new(),
            quizzes: Vec::new(),
        })
    }

    fn catalog() -> Catalog {
        let courses = (1..=30)
            .map(|i| {
                course(i, if i % 2 == 0 { "even" } else { "odd" }, &format!("Course {i} Excel"), i * 100, 1000 - i)
            })
            .chain([course(31, "odd", "Python 入门", 5000, 5000)])
            .collect();
        Catalog::new(vec![], courses)
    }

    fn ids(page: &ResultPage) -> Vec<i64> {
        page.items.iter().map(|c| c.id.0).collect()
    }

    #[test]
    fn parses_leniently() {
        let q = CatalogQuery::parse("category=tech&q=%20excel%20&sort=bogus&page=-3");
        assert_eq!(q, CatalogQuery { category: Some("tech".into()), q: "excel".into(), sort: Sort::Newest, page: 1 });
        assert_eq!(CatalogQuery::parse("page=abc&sort=price_desc").sort, Sort::PriceDesc);
        assert_eq!(CatalogQuery::parse("%zz=&&&").page, 1);
        assert_eq!(CatalogQuery::parse(&format!("q={}", "长".repeat(80))).q.chars().count(), 50);
    }

    #[test]
    fn links_keep_filters() {
        let q = CatalogQuery::parse("category=tech&q=数据 分析&sort=popular&page=2");
        assert_eq!(q.href(3), "/courses?category=tech&q=%E6%95%B0%E6%8D%AE+%E5%88%86%E6%9E%90&sort=popular&page=3");
        assert_eq!(CatalogQuery::default().href(1), "/courses");
        assert_eq!(q.with_sort(Sort::Newest).href(1), "/courses?category=tech&q=%E6%95%B0%E6%8D%AE+%E5%88%86%E6%9E%90");
    }

    #[test]
    fn newest_first_paginated() {
        let c = catalog();
        let first = search(&c, &CatalogQuery::default(), 12);
        assert_eq!((first.total, first.total_pages), (31, 3));
        assert_eq!(ids(&first)[..3], [31, 30, 29]);
        let last = search(&c, &CatalogQuery { page: 3, ..Default::default() }, 12);
        assert_eq!(ids(&last), [7, 6, 5, 4, 3, 2, 1]);
        let beyond = search(&c, &CatalogQuery { page: 9, ..Default::default() }, 12);
        assert!(beyond.items.is_empty());
    }

    #[test]
    fn filters_and_sorts() {
        let c = catalog();
        let q = CatalogQuery { category: Some("even".into()), sort: Sort::PriceAsc, ..Default::default() };
        let page = search(&c, &q, 12);
        assert_eq!(page.total, 15);
        assert_eq!(ids(&page)[..3], [2, 4, 6]);
        let q = CatalogQuery { sort: Sort::PriceDesc, ..Default::default() };
        assert_eq!(ids(&search(&c, &q, 2)), [31, 30]);
        let q = CatalogQuery { sort: Sort::Popular, ..Default::default() };
        assert_eq!(ids(&search(&c, &q, 3)), [31, 1, 2]);
        assert_eq!(search(&c, &CatalogQuery { category: Some("none".into()), ..Default::default() }, 12).total, 0);
    }

    #[test]
    fn keywords_match_title_and_subtitle_case_insensitively() {
        let c = catalog();
        let q = |text: &str| search(&c, &CatalogQuery { q: text.into(), ..Default::default() }, 50);
        assert_eq!(ids(&q("python")), [31]);
        assert_eq!(ids(&q("入门")), [31]);
        assert_eq!(ids(&q("SUBTITLE of python")), [31]);
        assert_eq!(q("excel").total, 30);
        assert_eq!(ids(&q("course 12 excel")), [12]);
        assert_eq!(q("nothing-like-this").total, 0);
    }
}
