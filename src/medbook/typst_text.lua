--[[
typst_text.lua — literal text stays literal in pandoc's typst output.

Typst reads `=`, `-`, `+`, `/` and a number followed by `.` as a heading, list,
enumeration or term-list marker when white space (any Unicode space) or the end
follows and the marker stands where a line or a content block starts: a list
item, a table cell, link text, a footnote. Pandoc's typst writer escapes such
markers only at the start of a paragraph or of a wrapped line, so escaped
Markdown text that begins with one becomes structure there: the label `=` in
`1. \= is measured before Y` is written `+ = is measured before Y`, a heading
inside the item, and the label `/` gives `+ / is ...`, a term list without its
colon that typst refuses to compile.

This filter backslash-escapes the first character of every Str that begins with
such a marker (unless an ASCII letter or digit follows, as in `-1` or `1.5`, which
no marker is). Typst prints `\c` as `c`, so the text is unchanged wherever it stands.
]]

local function starts_with_marker(text)
  local marker = text:match("^=+") or text:match("^[-+/]") or text:match("^%d+%.")
  if marker == nil then
    return false
  end
  return not text:sub(#marker + 1, #marker + 1):match("^%w$")
end

function Str(el)
  if not starts_with_marker(el.text) then
    return nil
  end
  local out = pandoc.Inlines({ pandoc.RawInline("typst", "\\" .. el.text:sub(1, 1)) })
  if #el.text > 1 then
    out:insert(pandoc.Str(el.text:sub(2)))
  end
  return out
end
