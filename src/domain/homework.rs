//! Homework (作业): a learner's submission is revised until staff review it, and then it is final.

super::words::stored_word! {
    pub enum HomeworkStatus { Submitted => "submitted", Reviewed => "reviewed" }
}
