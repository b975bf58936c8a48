# Runs a Logstash ruby-filter script (register/filter API) over events read as JSON from stdin and
# prints what it returns, as JSON. The Event class below is a stand-in for LogStash::Event with the
# methods the script may use (get, set, remove, tag, include?, to_hash), following Logstash's
# documented Event API and field-reference syntax ([a][b] or a top-level name).
#
#   ruby run_ruby_filter.rb SCRIPT < events.json > results.json
#   BENCH_ROUNDS=5 ruby run_ruby_filter.rb SCRIPT < events.json   # seconds per round, no results
require "json"

module LogStash
  class Event
    def initialize(data)
      @data = data
    end

    def get(reference)
      path(reference).reduce(@data) { |node, key| node.is_a?(Hash) ? node[key] : nil }
    end

    def set(reference, value)
      keys = path(reference)
      node = keys[0..-2].reduce(@data) do |parent, key|
        parent[key] = {} unless parent[key].is_a?(Hash)
        parent[key]
      end
      node[keys[-1]] = value
    end

    def remove(reference)
      keys = path(reference)
      parent = keys[0..-2].reduce(@data) { |node, key| node.is_a?(Hash) ? node[key] : nil }
      parent.is_a?(Hash) ? parent.delete(keys[-1]) : nil
    end

    def include?(reference)
      !get(reference).nil?
    end

    def tag(value)
      tags = (@data["tags"] ||= [])
      tags << value unless tags.include?(value)
    end

    def to_hash
      @data
    end

    private

    # Logstash field references: "name", "[name]", "[a][b][c]"; anything else is refused as Logstash
    # does. Parsed once per distinct reference, as Logstash's FieldReference caches them.
    REFERENCES = {}

    def path(reference)
      REFERENCES[reference] ||= begin
        if reference.start_with?("[")
          keys = reference.scan(/\[([^\[\]]+)\]/).flatten
          raise ArgumentError, "invalid field reference #{reference}" if keys.empty? || keys.map { |k| "[#{k}]" }.join != reference
          keys.freeze
        else
          [reference].freeze
        end
      end
    end
  end
end

# As logstash-filter-ruby loads a script file: evaluated into a blank execution context object,
# whose register(params) and filter(event) it then calls (ruby_script_context.rb, ExecutionContext).
script = ARGV.fetch(0)
context = Object.new
context.instance_eval(File.read(script), script, 1)
context.register({})
define_method(:filter) { |event| context.filter(event) }
if ENV["BENCH_ROUNDS"]
  # Time only the filter: the events are parsed and copied before the clock starts.
  inputs = JSON.parse($stdin.read)
  seconds = Integer(ENV["BENCH_ROUNDS"]).times.map do
    events = inputs.map { |data| LogStash::Event.new(Marshal.load(Marshal.dump(data))) }
    start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    events.each { |event| filter(event) }
    Process.clock_gettime(Process::CLOCK_MONOTONIC) - start
  end
  puts JSON.generate({ "events" => inputs.length, "seconds" => seconds })
  exit
end
results = JSON.parse($stdin.read).map do |data|
  event = LogStash::Event.new(data)
  kept = filter(event)
  { "kept" => kept.map(&:to_hash) }
end
puts JSON.generate(results)
