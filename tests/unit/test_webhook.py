"""The /wechat endpoint against requests built exactly as WeChat builds them, on both back-ends."""

from __future__ import annotations


def test_a_text_longer_than_wechat_takes_is_cut_at_a_line_end():
    from bot.wechat.replies import MAX_TEXT_BYTES, TRIMMED_MARK, fit_text, text

    short = "景福宫\n几点开门"
    assert fit_text(short) == short
    lines = "\n".join(f"{i:03d} 这是第{i}行的内容" for i in range(200))
    cut = text(lines).content
    assert len(cut.encode()) <= MAX_TEXT_BYTES and cut.endswith(TRIMMED_MARK)
    kept = cut.removesuffix(TRIMMED_MARK)
    assert lines.startswith(kept) and lines[len(kept)] == "\n"  # whole lines only
    one_line = "退" * 1000  # 3,000 bytes and no line end: cut between characters, never inside one
    assert fit_text(one_line) == "退" * ((MAX_TEXT_BYTES - len(TRIMMED_MARK.encode())) // 3) + TRIMMED_MARK
