--[[
medbook.lua — the Quarto book features of the built-in renderer, as a pandoc Lua filter.

Two phases, chosen with the metadata field `medbook-phase`:

number  (run once per chapter, output JSON)
  * `::: {#fig-...}` divs become figures (last paragraph = caption);
  * chapter/section headers, figures (#fig-), tables (#tbl-) and display equations
    (`$$...$$ {#eq-...}`) get chapter-based numbers ("3", "3.1", "Figure 3.2: ...");
  * the labels, the on-page table of contents and the cited keys are stored as JSON
    in the metadata field `medbook-index`.
  Inputs: `medbook-chapter` (number/letter, empty when unnumbered), `medbook-appendix`.

resolve (run per output format: html or typst)
  * `@fig-x`, `@tbl-x`, `@sec-x`, `@eq-x` (and `[-@fig-x]`) become "Figure 3.2" links, from the
    book-wide label table in the JSON file `medbook-xref-file`; an unknown label is an error;
  * callouts (`::: {.callout-note}` … note/tip/warning/caution/important) get their box;
  * images: `fig-alt` becomes the HTML alt text, `pdf-src` is used for typst; links to
    `.qmd` files point to their `.html` pages;
  * `.medbook-pdf-only` divs are kept in typst only.
  Inputs: `medbook-page` (page of this chapter, e.g. `chapters/intro.html`).
]]

local stringify = pandoc.utils.stringify

local function meta_string(meta, key)
  local value = meta[key]
  if value == nil then return "" end
  return stringify(value)
end

local KIND_WORD = { fig = "Figure", tbl = "Table", eq = "Equation", sec = "Section" }
local CALLOUTS = { note = "Note", tip = "Tip", warning = "Warning", caution = "Caution",
                   important = "Important" }

local function kind_of(id)
  return id and id:match("^(%a+)%-") or nil
end

-- `@Fig-x` is `@fig-x` with a capitalised prefix (Quarto's convention).
local function is_xref(id)
  local kind = kind_of(id)
  return kind ~= nil and KIND_WORD[kind:lower()] ~= nil
end

local function label_of(id)
  local kind, rest = id:match("^(%a+)(%-.*)$")
  return kind:lower() .. rest, kind:sub(1, 1):match("%u") ~= nil
end

local function callout_kind(div)
  for _, class in ipairs(div.classes) do
    local k = class:match("^callout%-(%a+)$")
    if k and CALLOUTS[k] then return k end
  end
  return nil
end

------------------------------------------------------------------ phase: number

local function number_phase(doc)
  local chapter = meta_string(doc.meta, "medbook-chapter")
  local appendix = meta_string(doc.meta, "medbook-appendix") == "true"
  local labels, toc, cites, title = {}, {}, {}, nil
  local counts = { fig = 0, tbl = 0, eq = 0 }
  local sections = {}

  local function next_number(kind)
    counts[kind] = counts[kind] + 1
    if chapter ~= "" then return chapter .. "." .. counts[kind] end
    return tostring(counts[kind])
  end

  local function add_label(id, kind, number, text)
    if labels[id] then error("duplicate label '" .. id .. "'", 0) end
    labels[id] = { kind = kind, number = number, text = text }
  end

  local function prefix_caption(caption, word, number)
    local lead = { pandoc.Str(word), pandoc.Space(), pandoc.Str(number .. ":") }
    if #caption.long == 0 then
      caption.long = { pandoc.Plain({ pandoc.Str(word), pandoc.Space(), pandoc.Str(number) }) }
      return caption
    end
    local first = caption.long[1]
    if first.content then
      local content = pandoc.Inlines(lead)
      content:insert(pandoc.Space())
      content:extend(first.content)
      first.content = content
    end
    return caption
  end

  -- Quarto's div syntax for figures and tables; callout titles given as a first header
  -- are set aside (they are not sections).
  doc = doc:walk({
    Div = function(div)
      if callout_kind(div) and #div.content > 0 and div.content[1].t == "Header" then
        div.content[1] = pandoc.Div({ pandoc.Plain(div.content[1].content) },
          { class = "callout-title-source" })
        return div
      end
      local kind = kind_of(div.identifier)
      if kind == "fig" and #div.content > 0 then
        local blocks = div.content
        local caption = {}
        if blocks[#blocks].t == "Para" and #blocks > 1 then
          caption = { pandoc.Plain(blocks[#blocks].content) }
          blocks = pandoc.List({ table.unpack(blocks, 1, #blocks - 1) })
        end
        return pandoc.Figure(blocks, caption, pandoc.Attr(div.identifier, div.classes,
          div.attributes))
      end
      if kind == "tbl" then
        local tables = div.content:filter(function(b) return b.t == "Table" end)
        if #tables == 1 then
          tables[1].identifier = div.identifier
          return div.content
        end
      end
    end,
  })

  doc = doc:walk({
    traverse = "topdown",
    Header = function(h)
      local unnumbered = h.classes:includes("unnumbered") or h.classes:includes("-")
      local text = stringify(h.content)
      local number = nil
      if h.level == 1 then
        title = title or text
        if chapter ~= "" and not unnumbered then number = chapter end
        sections = {}
      elseif chapter ~= "" and not unnumbered then
        for level = #sections + 1, h.level - 1 do sections[level] = sections[level] or 1 end
        sections[h.level] = (sections[h.level] or 0) + 1
        for level = h.level + 1, #sections do sections[level] = nil end
        local parts = { chapter }
        for level = 2, h.level do table.insert(parts, tostring(sections[level] or 1)) end
        number = table.concat(parts, ".")
      end
      if number then
        local span = pandoc.Span({ pandoc.Str(number) }, { class = "header-section-number" })
        local content = pandoc.Inlines({ span, pandoc.Space() })
        content:extend(h.content)
        h.content = content
      end
      if h.identifier ~= "" then
        local ref_text
        if number and h.level == 1 then
          ref_text = (appendix and "Appendix " or "Chapter ") .. number
        elseif number then
          ref_text = "Section " .. number
        else
          ref_text = text
        end
        if kind_of(h.identifier) == "sec" then
          add_label(h.identifier, "sec", number or "", ref_text)
        end
        if h.level >= 2 and h.level <= 3 then
          table.insert(toc, { id = h.identifier, level = h.level,
                              text = (number and (number .. " ") or "") .. text })
        end
      end
      return h
    end,
    Figure = function(fig)
      if kind_of(fig.identifier) == "fig" then
        local number = next_number("fig")
        add_label(fig.identifier, "fig", number, "Figure " .. number)
        fig.caption = prefix_caption(fig.caption, "Figure", number)
      end
      return fig
    end,
    Table = function(tbl)
      if kind_of(tbl.identifier) == "tbl" then
        local number = next_number("tbl")
        add_label(tbl.identifier, "tbl", number, "Table " .. number)
        tbl.caption = prefix_caption(tbl.caption, "Table", number)
      end
      return tbl
    end,
    Para = function(para)
      local out = pandoc.Inlines({})
      local changed = false
      local i = 1
      local inl = para.content
      while i <= #inl do
        local el = inl[i]
        local j = i + 1
        if inl[j] and inl[j].t == "Space" then j = j + 1 end
        local id = inl[j] and inl[j].t == "Str" and inl[j].text:match("^{#(eq%-[^}%s]+)}$")
        if el.t == "Math" and el.mathtype == "DisplayMath" and id then
          local number = next_number("eq")
          add_label(id, "eq", number, "Equation " .. number)
          out:insert(pandoc.Span({ el, pandoc.Span({ pandoc.Str("(" .. number .. ")") },
            { class = "equation-number" }) }, { id = id, class = "equation" }))
          changed = true
          i = j + 1
        else
          out:insert(el)
          i = i + 1
        end
      end
      if changed then
        para.content = out
        return para
      end
    end,
    Cite = function(cite)
      for _, c in ipairs(cite.citations) do
        if not is_xref(c.id) then cites[c.id] = true end
      end
    end,
  })

  local cited = {}
  for key, _ in pairs(cites) do table.insert(cited, key) end
  table.sort(cited)
  doc.meta["medbook-index"] = pandoc.json.encode({
    labels = labels, toc = toc, cites = cited, title = title or "",
    refs = #doc.blocks:filter(function(b) return b.identifier == "refs" end) > 0,
  })
  return doc
end

------------------------------------------------------------------ phase: resolve

local function escape_typst(text)
  return (text:gsub("([%p])", "\\%1"))
end

local function typst_inlines(inlines)
  local out = pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), "typst")
  return (out:gsub("%s+$", ""))
end

local function resolve_phase(doc)
  local html = FORMAT:match("html") ~= nil
  local typst = FORMAT == "typst"
  local page = meta_string(doc.meta, "medbook-page")
  local xref_file = meta_string(doc.meta, "medbook-xref-file")
  local xrefs = {}
  if xref_file ~= "" then
    local handle = assert(io.open(xref_file, "r"))
    xrefs = pandoc.json.decode(handle:read("a"), false)
    handle:close()
  end
  local depth = select(2, page:gsub("/", ""))
  local root = string.rep("../", depth)
  local page_dir = page:match("^(.*/)") or ""

  local function href_for(entry, id)
    if entry.page == page then return "#" .. id end
    return root .. entry.page .. "#" .. id
  end

  local function is_relative(src)
    return not src:match("^%a[%w+.-]*:") and not src:match("^/") and not src:match("^#")
  end

  local function ref_inline(c)
    local id, capital = label_of(c.id)
    local entry = xrefs[id]
    if entry == nil then
      error("unresolved cross-reference @" .. c.id .. " in " .. page
        .. " (no figure, table, section or equation has this label)", 0)
    end
    local text = entry.text
    if c.mode == "SuppressAuthor" and entry.number ~= "" then text = entry.number end
    if capital then text = text:sub(1, 1):upper() .. text:sub(2) end
    if typst then
      return pandoc.RawInline("typst",
        '#xref("' .. id .. '")[' .. escape_typst(text) .. "]")
    end
    return pandoc.Link({ pandoc.Str(text) }, href_for(entry, id), "", { class = "xref" })
  end

  local function callout(div)
    local kind = callout_kind(div)
    if not kind then return nil end
    local body = div.content
    local title = nil
    if div.attributes.title then
      title = pandoc.Inlines({ pandoc.Str(div.attributes.title) })
    elseif #body > 0 and body[1].t == "Div" and body[1].classes:includes("callout-title-source") then
      title = body[1].content[1].content
      body = pandoc.List({ table.unpack(body, 2) })
    else
      title = pandoc.Inlines({ pandoc.Str(CALLOUTS[kind]) })
    end
    if typst then
      local out = pandoc.List({ pandoc.RawBlock("typst",
        '#callout("' .. kind .. '", [' .. typst_inlines(title) .. "])[") })
      out:extend(body)
      out:insert(pandoc.RawBlock("typst", "]"))
      return out
    end
    local collapse = div.attributes.collapse
    if collapse == "true" or collapse == "false" then
      -- Quarto's collapsible callout: a <details> box, closed unless collapse="false".
      local summary = pandoc.write(pandoc.Pandoc({ pandoc.Plain(title) }), "html")
      local out = pandoc.List({ pandoc.RawBlock("html",
        '<details class="callout callout-' .. kind .. '"' .. (collapse == "false" and " open" or "")
        .. '><summary class="callout-title">' .. summary:gsub("%s+$", "") .. "</summary>") })
      out:insert(pandoc.Div(body, { class = "callout-body" }))
      out:insert(pandoc.RawBlock("html", "</details>"))
      return out
    end
    local header = pandoc.Div({ pandoc.Plain(title) }, { class = "callout-title" })
    local content = pandoc.Div(body, { class = "callout-body" })
    return pandoc.Div({ header, content },
      { class = "callout callout-" .. kind, role = "note" })
  end

  return doc:walk({
    Cite = function(cite)
      local refs, works = pandoc.List({}), pandoc.List({})
      for _, c in ipairs(cite.citations) do
        if is_xref(c.id) then refs:insert(c) else works:insert(c) end
      end
      if #refs == 0 then return nil end
      local out = pandoc.Inlines({})
      for n, c in ipairs(refs) do
        if n > 1 then out:extend({ pandoc.Str(","), pandoc.Space() }) end
        out:extend(c.prefix)
        if #c.prefix > 0 then out:insert(pandoc.Space()) end
        out:insert(ref_inline(c))
        out:extend(c.suffix)
      end
      if #works > 0 then
        out:insert(pandoc.Space())
        out:insert(pandoc.Cite({ pandoc.Str("") }, works))
      end
      return out
    end,
    Div = function(div)
      if div.classes:includes("medbook-pdf-only") then
        if typst then return div.content end
        return {}
      end
      return callout(div)
    end,
    Image = function(img)
      if typst then
        if img.attributes["pdf-src"] then img.src = img.attributes["pdf-src"] end
      else
        if img.attributes["fig-alt"] then img.attributes.alt = img.attributes["fig-alt"] end
        if is_relative(img.src) then img.src = root .. img.src end
      end
      img.attributes["pdf-src"] = nil
      img.attributes["fig-alt"] = nil
      return img
    end,
    Link = function(link)
      if is_relative(link.target) then
        local path, anchor = link.target:match("^([^#]*)(.*)$")
        if path:match("%.qmd$") or path:match("%.md$") then
          if typst then return link.content end
          link.target = path:gsub("%.q?md$", ".html") .. anchor
        end
      end
      return link
    end,
    Span = function(span)
      if typst and span.classes:includes("equation") then
        local math = span.content[1]
        local number = stringify(span.content[2])
        local body = pandoc.write(pandoc.Pandoc({ pandoc.Plain({ math }) }), "typst")
        body = body:gsub("%s+$", "")
        return pandoc.RawInline("typst",
          "#block(width: 100%)[#grid(columns: (1fr, auto), align: (center + horizon, "
          .. "right + horizon), [" .. body .. "], [" .. escape_typst(number) .. "])] <"
          .. span.identifier .. ">")
      end
    end,
  })
end

function Pandoc(doc)
  local phase = meta_string(doc.meta, "medbook-phase")
  if phase == "number" then return number_phase(doc) end
  if phase == "resolve" then return resolve_phase(doc) end
  error("medbook.lua: metadata medbook-phase must be 'number' or 'resolve'")
end
