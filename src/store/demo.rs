//! The demo catalog loaded into a new database: every product kind, with chapters, lessons,
//! free previews, instructors, prices and original prices.

use sqlx::{Any, Transaction};

use super::Db;
use crate::domain::{ChapterId, CourseId};

pub const DEMO_ADMIN_PHONE: &str = "13800000000";

/// (chapter title, [(lesson title, lesson kind, minutes, free preview)])
type DemoChapter = (&'static str, &'static [(&'static str, &'static str, i64, bool)]);

struct DemoCourse {
    slug: &'static str,
    kind: &'static str,
    category: &'static str,
    instructor: usize,
    title: &'static str,
    subtitle: &'static str,
    description: &'static str,
    price_fen: i64,
    original_price_fen: i64,
    learners: i64,
    outcomes: &'static str,
    audience: &'static str,
    non_refundable: bool,
    featured: bool,
    membership_days: Option<i64>,
    consult_minutes: Option<i64>,
    chapters: &'static [DemoChapter],
    /// A bundle's courses, by slug.
    bundle: &'static [&'static str],
    /// A column's plan: issues planned and its rhythm.
    column: Option<(i64, &'static str)>,
}

const CATEGORIES: &[(&str, &str)] =
    &[("career", "职场技能"), ("tech", "编程与数据"), ("humanities", "人文通识"), ("lifestyle", "生活兴趣")];

const INSTRUCTORS: &[(&str, &str, &str)] = &[
    ("林晓", "前咨询公司数据分析经理", "十年商业数据分析经验，带过 3000 多名职场学员，擅长把复杂的数据问题讲得简单。"),
    ("周明远", "资深后端工程师", "在互联网公司写了十二年代码，业余时间教零基础的朋友编程。"),
    ("陈一凡", "经济学博士、大学讲师", "研究方向为行为经济学，喜欢用生活里的故事讲清楚经济学原理。"),
    ("苏禾", "独立摄影师、短视频创作者", "作品发表于多家杂志，运营的短视频账号累计粉丝超过 50 万。"),
];

const COURSES: &[DemoCourse] = &[
    DemoCourse {
        slug: "excel-data-analysis",
        kind: "recorded",
        category: "career",
        instructor: 0,
        title: "Excel 数据分析实战",
        subtitle: "从函数到透视表，30 天做出老板看得懂的报表",
        description: "用真实的销售、库存和人事数据，一步步学会清洗数据、写公式、做透视表和动态图表。",
        price_fen: 19900,
        original_price_fen: 39900,
        learners: 12850,
        outcomes: "熟练使用 VLOOKUP、XLOOKUP、SUMIFS 等常用函数\n用数据透视表在 5 分钟内完成月度汇总\n做出会自动更新的动态图表和仪表盘",
        audience: "每天和表格打交道、想提高效率的职场人\n需要做周报、月报的运营和销售\n准备转行数据分析的新人",
        non_refundable: false,
        featured: true,
        membership_days: None,
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[
            (
                "第一章 打好基础",
                &[
                    ("课程导学：这门课怎么学", "video", 6, true),
                    ("数据录入与表格规范", "video", 18, true),
                    ("常用快捷键", "video", 12, false),
                ],
            ),
            (
                "第二章 函数与公式",
                &[("查找函数 VLOOKUP 与 XLOOKUP", "video", 24, false), ("条件汇总 SUMIFS", "video", 21, false)],
            ),
            (
                "第三章 透视表与图表",
                &[("数据透视表入门", "video", 26, false), ("动态图表与仪表盘", "video", 31, false)],
            ),
        ],
    },
    DemoCourse {
        slug: "python-zero-to-one",
        kind: "recorded",
        category: "tech",
        instructor: 1,
        title: "Python 零基础入门",
        subtitle: "写出你的第一个自动化脚本",
        description: "不需要任何编程基础，从安装环境开始，学会变量、循环、函数和文件处理，最后完成一个自动整理文件的小工具。",
        price_fen: 29900,
        original_price_fen: 49900,
        learners: 8630,
        outcomes: "独立搭建 Python 开发环境\n掌握变量、条件、循环和函数\n写脚本批量处理文件和表格",
        audience: "完全没有编程经验的初学者\n想用代码提高工作效率的职场人",
        non_refundable: false,
        featured: true,
        membership_days: None,
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[
            ("第一章 准备环境", &[("为什么学 Python", "video", 8, true), ("安装 Python 与编辑器", "video", 15, false)]),
            (
                "第二章 基本语法",
                &[
                    ("变量与数据类型", "video", 22, false),
                    ("条件与循环", "video", 25, false),
                    ("函数", "video", 23, false),
                ],
            ),
            (
                "第三章 动手做项目",
                &[("批量重命名文件", "video", 28, false), ("自动生成 Excel 报表", "video", 33, false)],
            ),
        ],
    },
    DemoCourse {
        slug: "economics-in-15-minutes",
        kind: "audio",
        category: "humanities",
        instructor: 2,
        title: "每天 15 分钟的经济学",
        subtitle: "通勤路上听懂身边的经济现象",
        description: "每集一个生活中的经济学问题：为什么电影院的爆米花那么贵？为什么打折总在月底？",
        price_fen: 9900,
        original_price_fen: 12900,
        learners: 23410,
        outcomes: "理解供需、成本、激励等核心概念\n用经济学思维做更好的消费和职业决定",
        audience: "对经济学好奇但没时间读教材的人\n喜欢用碎片时间学习的通勤族",
        non_refundable: false,
        featured: true,
        membership_days: None,
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[
            (
                "第一季 身边的经济学",
                &[
                    ("爆米花为什么这么贵", "audio", 14, true),
                    ("打折背后的定价策略", "audio", 15, false),
                    ("沉没成本：该不该看完一场烂电影", "audio", 13, false),
                ],
            ),
            (
                "第二季 个人决策",
                &[("机会成本与职业选择", "audio", 16, false), ("为什么我们总是存不下钱", "audio", 15, false)],
            ),
        ],
    },
    DemoCourse {
        slug: "product-manager-notes",
        kind: "article",
        category: "career",
        instructor: 0,
        title: "产品经理的 30 篇笔记",
        subtitle: "图文专栏：需求、原型与上线的实战经验",
        description: "30 篇图文，每篇 10 分钟读完，覆盖需求分析、原型设计、项目推进和数据复盘。",
        price_fen: 4900,
        original_price_fen: 6900,
        learners: 5120,
        outcomes: "写出开发看得懂的需求文档\n用数据复盘一次上线",
        audience: "刚入行的产品经理\n想转岗做产品的运营和开发",
        non_refundable: false,
        featured: false,
        membership_days: None,
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[
            ("需求篇", &[("好需求的三个标准", "article", 8, true), ("用户访谈怎么做", "article", 10, false)]),
            (
                "执行篇",
                &[
                    ("原型不是画图", "article", 9, false),
                    ("上线前的检查清单", "article", 7, false),
                    ("第一次数据复盘", "article", 11, false),
                ],
            ),
        ],
    },
    DemoCourse {
        slug: "short-video-bootcamp",
        kind: "live",
        category: "lifestyle",
        instructor: 3,
        title: "短视频运营直播训练营",
        subtitle: "4 场直播 + 回放，手把手做出第一个爆款",
        description: "每周一场直播，讲选题、拍摄、剪辑和数据分析；直播结束后可以看回放。",
        price_fen: 39900,
        original_price_fen: 59900,
        learners: 1860,
        outcomes: "找到适合自己的选题方向\n用手机拍出有质感的画面\n读懂后台数据，持续优化",
        audience: "想做个人账号的新手\n负责品牌短视频的运营",
        non_refundable: false,
        featured: true,
        membership_days: None,
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[
            ("开营", &[("开营导学（录播）", "video", 10, true)]),
            (
                "直播课",
                &[
                    ("第 1 场：选题与定位", "live", 90, false),
                    ("第 2 场：手机拍摄技巧", "live", 90, false),
                    ("第 3 场：剪辑与包装", "live", 90, false),
                    ("第 4 场：数据复盘", "live", 90, false),
                ],
            ),
        ],
    },
    DemoCourse {
        slug: "annual-membership",
        kind: "membership",
        category: "career",
        instructor: 0,
        title: "年度会员：全站课程畅学",
        subtitle: "365 天内全站录播、音频和专栏随便学",
        description: "开通后一年内可以学习全站所有录播课、音频课和图文专栏，新课上线也包含在内。",
        price_fen: 69800,
        original_price_fen: 99800,
        learners: 3270,
        outcomes: "一年内畅学全站课程\n新课上线第一时间学习",
        audience: "想系统提升的长期学习者",
        non_refundable: false,
        featured: true,
        membership_days: Some(365),
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[("会员权益", &[("会员权益说明", "article", 3, true), ("如何高效使用会员", "video", 7, false)])],
    },
    DemoCourse {
        slug: "career-consultation",
        kind: "consultation",
        category: "career",
        instructor: 0,
        title: "一对一职业规划咨询",
        subtitle: "60 分钟视频咨询，帮你理清下一步",
        description: "购买后预约时间，导师会提前阅读你的简历和问题，用 60 分钟和你一起制定行动计划。",
        price_fen: 50000,
        original_price_fen: 80000,
        learners: 412,
        outcomes: "看清自己的优势和短板\n得到一份可执行的 90 天计划",
        audience: "工作 1 到 5 年、对方向感到迷茫的人\n准备跳槽或转行的人",
        non_refundable: false,
        featured: false,
        membership_days: None,
        consult_minutes: Some(60),
        bundle: &[],
        column: None,
        chapters: &[("咨询须知", &[("咨询流程与准备材料", "article", 5, true)])],
    },
    DemoCourse {
        slug: "photography-composition",
        kind: "recorded",
        category: "lifestyle",
        instructor: 3,
        title: "手机摄影构图 10 讲",
        subtitle: "免费课：用手机拍出好看的照片",
        description: "十个简单好用的构图方法，配合大量实拍案例，看完就能用。",
        price_fen: 0,
        original_price_fen: 9900,
        learners: 40210,
        outcomes: "掌握三分法、引导线等常用构图\n学会用光线讲故事",
        audience: "喜欢拍照的所有人",
        non_refundable: false,
        featured: false,
        membership_days: None,
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[
            (
                "构图基础",
                &[("三分法", "video", 9, true), ("引导线", "video", 8, false), ("框架构图", "video", 7, false)],
            ),
            ("光线与色彩", &[("顺光、侧光与逆光", "video", 11, false)]),
        ],
    },
    DemoCourse {
        slug: "exam-english-sprint",
        kind: "recorded",
        category: "humanities",
        instructor: 2,
        title: "考研英语阅读冲刺（限时特惠）",
        subtitle: "20 篇真题精讲，促销价 9.9 元",
        description: "精选近十年真题阅读，逐句精讲长难句和出题思路。",
        price_fen: 990,
        original_price_fen: 19900,
        learners: 9980,
        outcomes: "读懂考研阅读长难句\n掌握主旨题和推理题的解题套路",
        audience: "准备考研的同学",
        non_refundable: true,
        featured: false,
        membership_days: None,
        consult_minutes: None,
        bundle: &[],
        column: None,
        chapters: &[(
            "真题精讲",
            &[("长难句拆解方法", "video", 20, true), ("主旨题", "video", 25, false), ("推理题", "video", 27, false)],
        )],
    },
    DemoCourse {
        slug: "office-efficiency-bundle",
        kind: "bundle",
        category: "career",
        instructor: 0,
        title: "职场效率组合（2 门课）",
        subtitle: "数据分析加产品思维，一次买齐更划算",
        description: "把两门最受欢迎的职场课放在一起：先用数据说话，再把想法写成别人看得懂的需求。两门课分别加入“我的课程”，各学各的进度。",
        price_fen: 21900,
        original_price_fen: 24800,
        learners: 860,
        outcomes: "用函数和透视表做出周报、月报\n写出开发读得懂、能验收的需求",
        audience: "想同时补数据和产品能力的职场人",
        non_refundable: false,
        featured: false,
        membership_days: None,
        consult_minutes: None,
        chapters: &[],
        bundle: &["excel-data-analysis", "product-manager-notes"],
        column: None,
    },
    DemoCourse {
        slug: "weekly-book-notes",
        kind: "column",
        category: "humanities",
        instructor: 2,
        title: "每周一本书（专栏）",
        subtitle: "每周一期，15 分钟听完一本好书",
        description: "每周一更新一期，一年 52 期。购买后已更新的和之后更新的每一期都可以收听。",
        price_fen: 12900,
        original_price_fen: 19900,
        learners: 2310,
        outcomes: "一年读完 52 本好书的精华\n每期附一个可以马上用的方法",
        audience: "想读书却总没时间的人",
        non_refundable: false,
        featured: false,
        membership_days: None,
        consult_minutes: None,
        chapters: &[(
            "2026 年",
            &[
                ("第 1 期：《思考，快与慢》", "audio", 15, true),
                ("第 2 期：《穷查理宝典》", "audio", 14, false),
                ("第 3 期：《原则》", "audio", 16, false),
            ],
        )],
        bundle: &[],
        column: Some((52, "每周一更新")),
    },
];

/// Inserts the demo catalog in one transaction.
pub async fn seed_catalog(db: &Db, now: i64) -> anyhow::Result<()> {
    let mut tx = db.write().begin().await?;
    let mut category_ids = Vec::new();
    for (i, (slug, name)) in CATEGORIES.iter().enumerate() {
        let id: i64 =
            sqlx::query_scalar("INSERT INTO categories (slug, name, position) VALUES ($1, $2, $3) RETURNING id")
                .bind(*slug)
                .bind(*name)
                .bind(i as i64)
                .fetch_one(&mut *tx)
                .await?;
        category_ids.push((*slug, id));
    }
    let mut instructor_ids = Vec::new();
    for (i, (name, title, bio)) in INSTRUCTORS.iter().enumerate() {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO instructors (name, title, bio, avatar_url) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(*name)
        .bind(*title)
        .bind(*bio)
        .bind(format!("/static/avatars/{}.svg", i + 1))
        .fetch_one(&mut *tx)
        .await?;
        instructor_ids.push(id);
    }
    let mut course_ids = std::collections::HashMap::new();
    for (age, course) in COURSES.iter().enumerate() {
        let category_id = category_ids.iter().find(|(s, _)| *s == course.category).map(|(_, id)| *id);
        let category_id = category_id.ok_or_else(|| anyhow::anyhow!("demo category {}", course.category))?;
        let created_at = now - (age as i64) * 86_400;
        let id =
            insert_course(&mut tx, course, category_id, instructor_ids[course.instructor], created_at, now).await?;
        course_ids.insert(course.slug, id);
    }
    for course in COURSES {
        for (position, item) in course.bundle.iter().enumerate() {
            let item = course_ids.get(item).ok_or_else(|| anyhow::anyhow!("demo bundle item {item}"))?;
            sqlx::query("INSERT INTO bundle_items (bundle_id, course_id, position) VALUES ($1, $2, $3)")
                .bind(course_ids.get(course.slug))
                .bind(item)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((planned, schedule)) = course.column {
            sqlx::query("INSERT INTO course_columns (course_id, planned, schedule) VALUES ($1, $2, $3)")
                .bind(course_ids.get(course.slug))
                .bind(planned)
                .bind(schedule)
                .execute(&mut *tx)
                .await?;
        }
    }
    let (code, name, off, min_spend) = DEMO_COUPON;
    sqlx::query(
        "INSERT INTO coupons (code, name, kind, value, min_spend_fen, valid_from, valid_until, per_user_limit, \
         new_buyers_only, created_at, updated_at) VALUES ($1, $2, 'fixed', $3, $4, $5, $6, 1, 1, $5, $5)",
    )
    .bind(code)
    .bind(name)
    .bind(off)
    .bind(min_spend)
    .bind(now)
    .bind(now + 365 * 86_400)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The demo's coupon, for first purchases, one per buyer, for a year: (code, name, fen off,
/// minimum price in fen). Its link is /coupons/XINREN20.
const DEMO_COUPON: (&str, &str, i64, i64) = ("XINREN20", "新人立减 20 元", 2000, 9900);

/// One demo course runs a limited-time price (限时价), ending this long after the shop is seeded.
const DEMO_SALE: (&str, i64) = ("python-zero-to-one", 3 * 86_400);

async fn insert_course(
    tx: &mut Transaction<'static, Any>,
    c: &DemoCourse,
    category_id: i64,
    instructor_id: i64,
    created_at: i64,
    now: i64,
) -> anyhow::Result<CourseId> {
    let course_id: CourseId = sqlx::query_scalar(
        "INSERT INTO courses (slug, kind, category_id, instructor_id, title, subtitle, description, cover_url, \
         price_fen, original_price_fen, learner_count, outcomes, audience, non_refundable, membership_days, \
         consult_minutes, featured, sale_ends_at, published, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1, $19, $19) RETURNING id",
    )
    .bind(c.slug)
    .bind(c.kind)
    .bind(category_id)
    .bind(instructor_id)
    .bind(c.title)
    .bind(c.subtitle)
    .bind(c.description)
    .bind(format!("/static/covers/{}-1280.jpg", c.slug))
    .bind(c.price_fen)
    .bind(c.original_price_fen)
    .bind(c.learners)
    .bind(c.outcomes)
    .bind(c.audience)
    .bind(i64::from(c.non_refundable))
    .bind(c.membership_days)
    .bind(c.consult_minutes)
    .bind(i64::from(c.featured))
    .bind((c.slug == DEMO_SALE.0).then_some(now + DEMO_SALE.1))
    .bind(created_at)
    .fetch_one(&mut **tx)
    .await?;
    // Members learn these free, and pay a member price for Python: the badges show on the cards.
    let member = match c.slug {
        "excel-data-analysis" | "economics-in-15-minutes" => Some(("free", None)),
        "python-zero-to-one" => Some(("price", Some(19_900_i64))),
        _ => None,
    };
    if let Some((rule, price)) = member {
        sqlx::query("UPDATE courses SET member_rule = $1, member_price_fen = $2 WHERE id = $3")
            .bind(rule)
            .bind(price)
            .bind(course_id)
            .execute(&mut **tx)
            .await?;
    }
    if c.kind == "membership" {
        sqlx::query("UPDATE courses SET membership_period = 'year', membership_scope = 'all' WHERE id = $1")
            .bind(course_id)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(minutes) = c.consult_minutes {
        // Evenings at 20:00 Shanghai time (12:00 UTC) over the coming two weeks.
        for day in 2..16 {
            sqlx::query(
                "INSERT INTO consultation_slots (course_id, starts_at, minutes, meeting, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(course_id)
            .bind((now / 86_400 + day) * 86_400 + 12 * 3600)
            .bind(minutes)
            .bind("腾讯会议 123 456 789")
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
    }
    let mut live_index = 0;
    for (ci, (chapter, lessons)) in c.chapters.iter().enumerate() {
        let chapter_id: ChapterId =
            sqlx::query_scalar("INSERT INTO chapters (course_id, title, position) VALUES ($1, $2, $3) RETURNING id")
                .bind(course_id)
                .bind(*chapter)
                .bind(ci as i64)
                .fetch_one(&mut **tx)
                .await?;
        for (li, (title, kind, minutes, free)) in lessons.iter().enumerate() {
            // Live sessions are weekly, the first one three days after the demo was created,
            // at 20:00 Shanghai time (12:00 UTC).
            let starts_at = (*kind == "live").then(|| {
                live_index += 1;
                let day = (now / 86_400 + 3 + 7 * (live_index - 1)) * 86_400;
                day + 12 * 3600
            });
            sqlx::query(
                "INSERT INTO lessons (course_id, chapter_id, title, kind, duration_secs, free_preview, position, starts_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(course_id)
            .bind(chapter_id)
            .bind(*title)
            .bind(*kind)
            .bind(minutes * 60)
            .bind(i64::from(*free))
            .bind(li as i64)
            .bind(starts_at)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(course_id)
}

const DEMO_ARTICLE: &str = "## 这一篇讲什么\n\n好的需求文档，开发读完就知道**做什么、为什么做、做到什么程度算完成**。\n\n\
## 三个标准\n\n1. 目标清楚：一句话说明要解决谁的什么问题；\n2. 范围明确：写清楚这次不做什么；\n3. 可以验收：每条需求都有判断标准。\n\n\
> 小练习：找一份你最近写的需求，用这三条检查一遍。\n\n读到这里，这一课就完成了。";

/// Points every video lesson at `video_key`, every audio lesson at `audio_key`, and gives
/// articles their text (`media::demo` has put the files).
pub async fn use_demo_media(db: &Db, video_key: &str, audio_key: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.write().begin().await?;
    sqlx::query("UPDATE lessons SET media_key = $1 WHERE kind = 'video'").bind(video_key).execute(&mut *tx).await?;
    sqlx::query("UPDATE lessons SET media_key = $1 WHERE kind = 'audio'").bind(audio_key).execute(&mut *tx).await?;
    sqlx::query("UPDATE lessons SET body = $1 WHERE kind = 'article'").bind(DEMO_ARTICLE).execute(&mut *tx).await?;
    sqlx::query("UPDATE lessons SET notes = '讲师笔记：先看完再动手练习，遇到问题记下时间点，方便回看。'")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProductKind;

    #[test]
    fn demo_covers_every_kind_and_has_previews() {
        assert!(CATEGORIES.len() >= 3 && COURSES.len() >= 8);
        for kind in ProductKind::ALL.iter().copied() {
            assert!(COURSES.iter().any(|c| c.kind == kind.as_str()), "{kind:?}");
        }
        for c in COURSES {
            if c.kind == "bundle" {
                assert!(c.chapters.is_empty() && c.bundle.len() >= 2, "{}: its courses' lessons", c.slug);
                assert!(c.bundle.iter().all(|item| COURSES.iter().any(|o| o.slug == *item && o.kind != "bundle")));
                continue;
            }
            assert_eq!(c.column.is_some(), c.kind == "column", "{}", c.slug);
            let lessons: Vec<_> = c.chapters.iter().flat_map(|(_, l)| l.iter()).collect();
            assert!(!lessons.is_empty(), "{}", c.slug);
            assert!(lessons.iter().any(|l| l.3), "{} has no free preview", c.slug);
            assert!(lessons.iter().all(|l| l.2 > 0), "{}", c.slug);
            assert!(c.original_price_fen >= c.price_fen, "{}", c.slug);
            assert!(CATEGORIES.iter().any(|(s, _)| *s == c.category));
            assert!(c.instructor < INSTRUCTORS.len());
        }
    }
}
