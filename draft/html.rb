#!/usr/bin/env ruby
# frozen_string_literal: true

# html.rb DRAFT.xml > DRAFT.html
#
# Renders the RFCXML that kramdown-rfc writes as one HTML page, for reading
# where xml2rfc is not installed (Debian 12 does not package it, and no
# Debian, npm or Go package renders RFCXML). It is a plain rendering, not
# the RFC Editor's format: the text, lists, figures and tables as they are,
# with the numbering of sections, appendices, figures and tables, a table of
# contents, cross-references as links, and the references. It knows the
# elements kramdown-rfc 1.6 writes, in the v3 vocabulary and the v2 one it
# mixes in (list, texttable, spanx); an element it does not know fails the
# rendering, so that nothing is dropped without notice.

require "cgi"
require "rexml/document"

xml_path = ARGV[0]
abort "usage: html.rb DRAFT.xml > DRAFT.html" unless xml_path && ARGV.size == 1

doc = REXML::Document.new(File.read(xml_path, encoding: "UTF-8"))
rfc = doc.root

def esc(s) = CGI.escapeHTML(s.to_s)

def children(el) = el.elements.to_a

def name_of(el)
  n = el.elements["name"]
  n ? n : el.attributes["title"]
end

# --- numbering --------------------------------------------------------------

# labels maps an anchor to how a cross-reference names it ("Section 3.1",
# "Figure 2", "[RFC9110]"); toc lists [number, anchor, element] of sections.
labels = {}
toc = []
numbers = {}
counters = { "figure" => 0, "table" => 0 }
anon = 0
ensure_anchor = lambda do |el, prefix|
  el.attributes["anchor"] ||= "#{prefix}-#{anon += 1}"
end

number_sections = lambda do |parent, prefix, appendix|
  n = 0
  children(parent).each do |el|
    next unless %w[section references].include?(el.name)
    next if numbers.key?(el) # the references, numbered already

    ensure_anchor.call(el, "section")
    if el.attributes["numbered"] == "false"
      num = nil
    else
      n += 1
      num = prefix.empty? && appendix ? ("A".ord + n - 1).chr : "#{prefix}#{prefix.empty? ? '' : '.'}#{n}"
    end
    numbers[el] = num
    kind = appendix && prefix.empty? ? "Appendix" : (appendix ? "Appendix" : "Section")
    labels[el.attributes["anchor"]] = num ? "#{kind} #{num}" : (name_of(el).is_a?(REXML::Element) ? name_of(el).text.to_s : name_of(el).to_s)
    toc << [num, el.attributes["anchor"], el, prefix.count(".") + (prefix.empty? ? 0 : 1)]
    number_sections.call(el, num || prefix, appendix)
  end
end

middle = rfc.elements["middle"]
back = rfc.elements["back"]
number_sections.call(middle, "", false)
# The references come after the middle's sections, numbered as they are;
# the back's sections are appendices.
if back
  refs = back.get_elements("references")
  unless refs.empty?
    n = children(middle).count { |e| e.name == "section" && e.attributes["numbered"] != "false" } + 1
    holder = REXML::Element.new("section")
    holder.add_attribute("anchor", "references")
    holder.add_element("name").text = "References"
    refs.each { |r| holder.add(r.remove) }
    back.insert_before(back.elements[1], holder) if back.elements[1]
    back.add(holder) unless holder.parent
    numbers[holder] = n.to_s
    labels["references"] = "Section #{n}"
    toc << [n.to_s, "references", holder, 0]
    refs.each_with_index do |r, i|
      ensure_anchor.call(r, "section")
      numbers[r] = "#{n}.#{i + 1}"
      labels[r.attributes["anchor"]] = "Section #{n}.#{i + 1}"
      toc << ["#{n}.#{i + 1}", r.attributes["anchor"], r, 1]
    end
  end
  number_sections.call(back, "", true)
end

REXML::XPath.each(rfc, "//figure | //texttable | //table") do |el|
  kind = el.name == "figure" ? "figure" : "table"
  counters[kind] += 1
  ensure_anchor.call(el, kind)
  labels[el.attributes["anchor"]] = "#{kind.capitalize} #{counters[kind]}"
  numbers[el] = counters[kind]
end
REXML::XPath.each(rfc, "//reference") do |el|
  labels[el.attributes["anchor"]] = "[#{el.attributes['anchor']}]"
end

# --- rendering --------------------------------------------------------------

out = +""
unknown = []

render = nil
render_inline = lambda do |el|
  el.children.map do |c|
    case c
    when REXML::Text then esc(c.value)
    when REXML::Element then render.call(c, 0)
    else ""
    end
  end.join
end

section_title = lambda do |el|
  n = name_of(el)
  n.is_a?(REXML::Element) ? render_inline.call(n) : esc(n)
end

xref = lambda do |el|
  target = el.attributes["target"]
  text = render_inline.call(el)
  return %(<a href="##{esc(target)}">#{text}</a>) unless text.strip.empty?

  ref = labels[target] || target
  link = %(<a href="##{esc(target)}">#{esc(ref)}</a>)
  if (sec = el.attributes["section"])
    case el.attributes["sectionFormat"]
    when "comma" then return "#{link}, Section #{esc(sec)}"
    when "parens" then return "#{link} (Section #{esc(sec)})"
    when "bare" then return esc(sec)
    else return "Section #{esc(sec)} of #{link}"
    end
  end
  link
end

reference = lambda do |el|
  front = el.elements["front"]
  authors = front.get_elements("author").map do |a|
    a.attributes["fullname"] || a.attributes["surname"] || a.elements["organization"]&.text
  end.compact.reject(&:empty?)
  parts = []
  parts << esc(authors.join(", ")) unless authors.empty?
  parts << "&quot;#{esc(front.elements['title'].text)}&quot;"
  el.get_elements("seriesInfo").each { |s| parts << esc("#{s.attributes['name']} #{s.attributes['value']}") }
  if (d = front.elements["date"]) && d.attributes["year"]
    parts << esc([d.attributes["month"], d.attributes["year"]].compact.join(" "))
  end
  if (t = el.attributes["target"])
    parts << %(&lt;<a href="#{esc(t)}">#{esc(t)}</a>&gt;)
  end
  %(<dt id="#{esc(el.attributes['anchor'])}">[#{esc(el.attributes['anchor'])}]</dt>\n<dd>#{parts.join(', ')}.</dd>\n)
end

render = lambda do |el, depth|
  case el.name
  when "section", "references", "note"
    num = numbers[el]
    level = [depth + 2, 6].min
    title = el.name == "note" ? esc(el.attributes["title"]) : section_title.call(el)
    anchor = el.attributes["anchor"]
    s = +%(<section#{anchor ? %( id="#{esc(anchor)}") : ''}>\n)
    s << %(<h#{level}>#{num ? %(<a class="num" href="##{esc(anchor)}">#{esc(num)}.</a> ) : ''}#{title}</h#{level}>\n)
    if el.name == "references"
      s << %(<dl class="references">\n)
      children(el).each { |c| s << reference.call(c) if c.name == "reference" }
      s << "</dl>\n"
    else
      children(el).each { |c| s << render.call(c, depth + 1) unless c.name == "name" }
    end
    s << "</section>\n"
  when "t"
    lists = children(el).select { |c| c.name == "list" }
    if lists.any? && el.texts.all? { |t| t.value.strip.empty? }
      lists.map { |l| render.call(l, depth) }.join
    else
      "<p>#{render_inline.call(el)}</p>\n"
    end
  when "list"
    tag = { "numbers" => "ol", "hanging" => "dl" }.fetch(el.attributes["style"].to_s, "ul")
    items = children(el).map do |c|
      if tag == "dl"
        "<dt>#{esc(c.attributes['hangText'])}</dt><dd>#{render_inline.call(c)}</dd>\n"
      else
        "<li>#{render_inline.call(c)}</li>\n"
      end
    end
    "<#{tag}>\n#{items.join}</#{tag}>\n"
  when "ul", "ol", "dl"
    "<#{el.name}>\n#{children(el).map { |c| render.call(c, depth) }.join}</#{el.name}>\n"
  when "li", "dt", "dd"
    inner = if children(el).any? { |c| %w[t ul ol dl figure].include?(c.name) }
              children(el).map { |c| render.call(c, depth) }.join
            else
              render_inline.call(el)
            end
    "<#{el.name}>#{inner}</#{el.name}>\n"
  when "figure"
    body = children(el).reject { |c| c.name == "name" }.map { |c| render.call(c, depth) }.join
    title = name_of(el)
    caption = "#{labels[el.attributes['anchor']]}#{title ? ": #{title.is_a?(REXML::Element) ? render_inline.call(title) : esc(title)}" : ''}"
    %(<figure id="#{esc(el.attributes['anchor'])}">\n#{body}<figcaption>#{caption}</figcaption>\n</figure>\n)
  when "artwork", "sourcecode"
    type = el.attributes["type"]
    %(<pre#{type ? %( class="#{esc(type)}") : ''}>#{esc(el.texts.map(&:value).join.sub(/\A\n/, '').chomp)}</pre>\n)
  when "texttable"
    cols = el.get_elements("ttcol")
    cells = el.get_elements("c")
    head = cols.map { |c| "<th>#{render_inline.call(c)}</th>" }.join
    rows = cells.each_slice(cols.size).map { |row| "<tr>#{row.map { |c| "<td>#{render_inline.call(c)}</td>" }.join}</tr>\n" }
    %(<table id="#{esc(el.attributes['anchor'])}">\n<caption>#{labels[el.attributes['anchor']]}: #{esc(el.attributes['title'])}</caption>\n<thead><tr>#{head}</tr></thead>\n<tbody>\n#{rows.join}</tbody>\n</table>\n)
  when "xref" then xref.call(el)
  when "eref"
    text = render_inline.call(el)
    %(<a href="#{esc(el.attributes['target'])}">#{text.empty? ? esc(el.attributes['target']) : text}</a>)
  when "bcp14" then %(<span class="bcp14">#{render_inline.call(el)}</span>)
  when "em", "strong", "sub", "sup" then "<#{el.name}>#{render_inline.call(el)}</#{el.name}>"
  when "tt" then "<code>#{render_inline.call(el)}</code>"
  when "spanx"
    tag = { "verb" => "code", "strong" => "strong" }.fetch(el.attributes["style"].to_s, "em")
    "<#{tag}>#{render_inline.call(el)}</#{tag}>"
  when "iref" then ""
  else
    unknown << el.name
    ""
  end
end

front = rfc.elements["front"]
title = front.elements["title"].text.to_s
date = front.elements["date"]
authors = front.get_elements("author").map do |a|
  [a.attributes["fullname"], a.elements["organization"]&.text].compact.reject(&:empty?).join(", ")
end

out << <<~HTML
  <!DOCTYPE html>
  <html lang="en">
  <head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>#{esc(title)}</title>
  <style>
  body { max-width: 50em; margin: 2em auto; padding: 0 1em; font: 16px/1.5 sans-serif; color: #222; }
  h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; } h3, h4, h5, h6 { font-size: 1.1em; }
  a { color: #1a5fb4; } a.num { color: inherit; text-decoration: none; }
  pre { background: #f6f6f6; border: 1px solid #ddd; padding: .6em; overflow-x: auto; font-size: .85em; line-height: 1.3; }
  code { font-size: .9em; }
  figure { margin: 1em 0; } figcaption, caption { font-size: .9em; color: #555; text-align: center; }
  table { border-collapse: collapse; margin: 1em auto; } th, td { border: 1px solid #ccc; padding: .2em .6em; text-align: left; }
  dt { font-weight: bold; } dl.references dd { margin-bottom: .6em; }
  .bcp14 { font-variant: small-caps; font-weight: bold; }
  .meta { color: #555; } nav ul { list-style: none; padding-left: 1.2em; } nav > ul { padding-left: 0; }
  </style>
  </head>
  <body>
  <header>
  <p class="meta">#{esc(front.elements['workgroup']&.text)}<br>Internet-Draft: #{esc(rfc.attributes['docName'])}<br>
  #{esc([date&.attributes&.[]('day'), date&.attributes&.[]('month'), date&.attributes&.[]('year')].compact.join(' '))}<br>
  #{authors.map { |a| esc(a) }.join('<br>')}</p>
  <h1>#{esc(title)}</h1>
  </header>
HTML
if (abstract = front.elements["abstract"])
  out << %(<section id="abstract">\n<h2>Abstract</h2>\n)
  children(abstract).each { |c| out << render.call(c, 1) }
  out << "</section>\n"
end
front.get_elements("note").each { |n| out << render.call(n, 0) }

out << %(<nav id="toc">\n<h2>Table of Contents</h2>\n<ul>\n)
toc.each do |num, anchor, el, level|
  out << %(<li style="margin-left: #{level * 1.5}em"><a href="##{esc(anchor)}">#{num ? "#{esc(num)}. " : ''}#{section_title.call(el)}</a></li>\n)
end
out << "</ul>\n</nav>\n<main>\n"
children(middle).each { |c| out << render.call(c, 0) }
children(back).each { |c| out << render.call(c, 0) } if back
out << "</main>\n</body>\n</html>\n"

unless unknown.empty?
  warn "html.rb: elements not rendered: #{unknown.uniq.sort.join(', ')}"
  exit 1
end
print out
