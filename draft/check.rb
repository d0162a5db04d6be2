#!/usr/bin/env ruby
# frozen_string_literal: true

# check.rb DRAFT.md DRAFT.xml
#
# Lints an Internet-Draft produced by kramdown-rfc, for problems that
# kramdown-rfc does not report and that xml2rfc would (where xml2rfc is not
# installed), and checks the example exchanges of the draft:
#
#   - the XML is well-formed and contains no placeholder for a reference
#     that could not be resolved, and no unconverted {{...}} reference;
#   - no anchor is defined twice, every reference is cited, and every
#     cross-reference has a target;
#   - the text is ASCII;
#   - no line of a figure is longer than 69 characters (xml2rfc indents
#     figures by 3 in a 72-column text rendering);
#   - every example (a fenced block with the info string "http-example",
#     followed by an IAL naming it "example-...") is an HTTP/1.1 exchange:
#     a request, then responses, each with a header section ended by an
#     empty line, a Content-Length, where present, that counts the
#     content as shown, and JSON content that parses.
#
# Prints one line per problem and exits non-zero if there is any.

require "json"
require "rexml/document"

md_path, xml_path = ARGV
abort "usage: check.rb DRAFT.md DRAFT.xml" unless md_path && xml_path

problems = []
md = File.read(md_path, encoding: "UTF-8")
xml = File.read(xml_path, encoding: "UTF-8")

# --- the XML ---------------------------------------------------------------

begin
  doc = REXML::Document.new(xml)
rescue REXML::ParseException => e
  puts "#{xml_path}: not well-formed: #{e.message.lines.first}"
  exit 1
end

problems << "#{xml_path}: unresolved reference placeholder" if xml.include?("BROKEN REFERENCE")
if xml.gsub(/<!\[CDATA\[.*?\]\]>/m, "") =~ /\{\{|\}\}/
  problems << "#{xml_path}: unconverted {{...}} cross-reference"
end

anchors = {}
REXML::XPath.each(doc, "//*[@anchor]") do |e|
  a = e.attributes["anchor"]
  problems << "#{xml_path}: anchor #{a.inspect} is defined more than once" if anchors.key?(a)
  anchors[a] = e.name
end
cited = {}
REXML::XPath.each(doc, "//xref") do |x|
  target = x.attributes["target"]
  cited[target] = true
  problems << "#{xml_path}: xref to unknown anchor #{target.inspect}" unless anchors.key?(target)
end
REXML::XPath.each(doc, "//reference") do |r|
  a = r.attributes["anchor"]
  problems << "#{xml_path}: reference #{a} is never cited" unless cited[a]
end

xml.each_line.with_index(1) do |line, n|
  problems << "#{xml_path}:#{n}: non-ASCII character" unless line.ascii_only?
end

REXML::XPath.each(doc, "//artwork | //sourcecode") do |fig|
  fig.text.to_s.each_line do |line|
    line = line.chomp
    if line.length > 69
      problems << "#{xml_path}: figure line longer than 69 characters: #{line.inspect}"
    end
  end
end

# --- the examples ----------------------------------------------------------

FENCE = /^(~~~+|```+)[ \t]*http-example[ \t]*\n(.*?)^\1[ \t]*\n(\{:[^\n]*\})?/m
examples = md.scan(FENCE)
problems << "#{md_path}: no http-example blocks" if examples.empty?

names = {}
examples.each do |_fence, body, ial|
  name = ial && ial[/#([A-Za-z0-9_-]+)/, 1]
  unless name&.start_with?("example-")
    problems << "#{md_path}: http-example block without an {: #example-...} IAL: #{body.lines.first&.chomp.inspect}"
    name = "(unnamed)"
  end
  problems << "#{md_path}: duplicate example name #{name}" if names[name]
  names[name] = true

  rest = body
  # The request: request line and header section.
  head, sep, rest = rest.partition("\n\n")
  if sep.empty? || head !~ %r{\A[A-Z]+ \S+ HTTP/1\.[01]\n}
    problems << "#{name}: does not begin with an HTTP/1.x request and an empty line"
    next
  end
  if head !~ /^Host: /i
    problems << "#{name}: request has no Host field"
  end
  # The responses.
  responses = 0
  until rest.empty?
    head, sep, rest = rest.partition("\n\n")
    status = head[%r{\AHTTP/1\.[01] (\d{3}) }, 1]
    unless status
      problems << "#{name}: expected a status line, found #{head.lines.first&.chomp.inspect}"
      break
    end
    responses += 1
    code = status.to_i
    if head.each_line.drop(1).any? { |l| l !~ /\A[!#$%&'*+.^_`|~0-9A-Za-z-]+: \S/ }
      problems << "#{name}: malformed field line in the #{code} response"
    end
    next if code < 200 # interim: no content
    if sep.empty? && !rest.empty?
      problems << "#{name}: header section of the #{code} response is not ended by an empty line"
    end
    content = rest
    rest = ""
    if head =~ %r{^Content-Type: application/(problem\+)?json}i
      begin
        JSON.parse(content)
      rescue JSON::ParserError => e
        problems << "#{name}: the content of the #{code} response is not JSON: #{e.message.lines.first.chomp}"
      end
    end
    if (len = head[/^Content-Length: (\d+)$/i, 1])
      if len.to_i != content.bytesize
        problems << "#{name}: Content-Length is #{len} but the content shown is #{content.bytesize} bytes"
      end
    elsif code != 204 && code != 304 && head !~ %r{^Content-Type: text/event-stream}i && !content.empty?
      problems << "#{name}: the #{code} response has content but no Content-Length"
    end
  end
  problems << "#{name}: no response" if responses.zero?
end

problems.each { |p| puts p }
puts "#{examples.size} examples checked" if problems.empty?
exit(problems.empty? ? 0 : 1)
