# Turns one container log event from Filebeat into the ECS document every source shares.
#
# Run by Logstash's ruby filter (logstash/pipeline/logstash.conf, JRuby 9.4 = Ruby 3.1) and, in the
# tests, by Debian's Ruby 3.1 against the contract (logstash/contract/log-lines.yml): the same file.
# It uses only Event#get/set/remove/tag and the Ruby standard library.
#
# In:  message (one line, or several that Filebeat's multiline parser joined), @timestamp (Docker's
#      capture time), container.*, host.name, stream, log.file.path, log.offset from Filebeat.
# Out: @timestamp from the line ([@metadata][timestamp], applied by the date filter after this),
#      message (the human text, never the raw JSON), log.level in one vocabulary, log.logger,
#      service.name, trace.id, span.id, error.{type,message,stack_trace}, http/url/user_agent for
#      access lines, process.pid, event.dataset, event.created, labels.stream, and every other field
#      of the line under `extra` (mapped `flattened`: one field, so no source can conflict with another).
# A line that fails to parse is kept whole in message and tagged; only the stack's own health probes
# (User-Agent obsstack-probe/...) are dropped.
require "json"
require "time"

module ObsstackEcs
  # Grafana's log-level names (its LogLevel enum): one vocabulary whatever the source says.
  LEVELS = {
    "trace" => "trace", "trc" => "trace",
    "debug" => "debug", "dbug" => "debug", "dbg" => "debug", "verbose" => "debug",
    "debug1" => "debug", "debug2" => "debug", "debug3" => "debug", "debug4" => "debug", "debug5" => "debug",
    "info" => "info", "information" => "info", "informational" => "info", "inf" => "info", "notice" => "info",
    "log" => "info", "detail" => "info", "hint" => "info", "statement" => "info", "context" => "info",
    "warn" => "warning", "warning" => "warning", "wrn" => "warning",
    "error" => "error", "err" => "error", "eror" => "error",
    "critical" => "critical", "crit" => "critical", "fatal" => "critical", "panic" => "critical",
    "emerg" => "critical", "emergency" => "critical", "alert" => "critical", "severe" => "critical",
  }.freeze
  # Redis marks its level with one character: . debug, - verbose, * notice, # warning.
  REDIS_LEVELS = { "." => "debug", "-" => "debug", "*" => "info", "#" => "warning" }.freeze

  # Where each ECS field may come from in a structured line (JSON keys after dot expansion, logfmt keys).
  ALIASES = {
    "timestamp" => [["@timestamp"], ["timestamp"], ["time"], ["ts"], ["t"], ["asctime"], ["timeMillis"]],
    "level" => [["log", "level"], ["level"], ["levelname"], ["severity"], ["lvl"]],
    "message" => [["message"], ["msg"], ["event"], ["logEvent", "message"]],
    "logger" => [["log", "logger"], ["logger"], ["logger_name"], ["loggerName"], ["name"]],
    "service" => [["service", "name"], ["service"], ["otelServiceName"]],
    "trace" => [["trace", "id"], ["trace_id"], ["traceId"], ["traceID"], ["otelTraceID"]],
    "span" => [["span", "id"], ["span_id"], ["spanId"], ["spanID"], ["otelSpanID"]],
    "error_type" => [["error", "type"], ["exc_type"]],
    "error_message" => [["error", "message"], ["err"], ["error"]],
    "stack_trace" => [["error", "stack_trace"], ["exc_info"], ["stack_trace"], ["stacktrace"], ["exception"]],
    "pid" => [["process", "pid"], ["pid"]],
    "dataset" => [["event", "dataset"]],
  }.freeze
  # Access-log fields, ECS names only (the demo app and ecs-logging apps write them so).
  HTTP_FIELDS = {
    ["http", "request", "method"] => :string, ["http", "response", "status_code"] => :integer,
    ["url", "path"] => :string, ["user_agent", "original"] => :string, ["event", "duration"] => :integer,
  }.freeze
  # Keys that describe the line's format rather than the event; not copied to `extra`.
  FORMAT_KEYS = [["ecs", "version"], ["ecs"]].freeze
  # Identifiers of values that name no service (Elasticsearch writes this placeholder).
  PLACEHOLDER_SERVICES = ["ES_ECS"].freeze
  EXTRA_DEPTH = 10
  BOOKKEEPING_TAGS = ["beats_input_codec_plain_applied"].freeze
  PROBE_AGENT = /\Aobsstack-probe\//.freeze
  HEX_ID = /\A[0-9a-f]+\z/.freeze

  LOGFMT_START = /\A(?:time|ts|t|level|lvl|logger|caller|source)=/.freeze
  LOGFMT_PAIR = /\G\s*([A-Za-z_][\w.\-\/]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)/.freeze
  POSTGRESQL = /\A(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Z]{2,5}) \[(\d+)\] (?:\S+@\S+ )?([A-Z0-9]+):  (.*)\z/m.freeze
  POSTGRESQL_CONTINUATION = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [A-Z]{2,5} \[\d+\] (?:\S+@\S+ )?([A-Z]+:  )/.freeze
  REDIS = /\A(\d+):([XCSM]) (\d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3}) ([.\-*#]) (.*)\z/m.freeze
  # Log4j pattern layouts of Logstash ([ts][LEVEL][logger] msg) and Kibana ([ts][LEVEL][logger] msg).
  BRACKETED = /\A\[(\d{4}-\d\d-\d\dT[\d:.,]+(?:Z|[+-]\d\d:?\d\d)?)\]\[\s*([A-Za-z]+)\s*\]\[\s*([^\]]*?)\s*\](?:\[[^\]]*\])*\s?(.*)\z/m.freeze
  # An OpenTelemetry Collector (Jaeger) console line: time, level, caller, message, JSON fields, tab-separated.
  COLLECTOR_CONSOLE = /\A(\d{4}-\d\d-\d\dT[\d:.]+Z)\t([a-z]+)\t(\S+)\t([^\t]*)(?:\t(\{.*\}))?\z/m.freeze
  # Python's logging.basicConfig format (LEVEL:logger:message) and uvicorn's (LEVEL:     message).
  PYTHON_PLAIN = /\A(DEBUG|INFO|WARNING|ERROR|CRITICAL):(?:\s+|([\w.]+):)(.*)\z/m.freeze
  TRACEBACK_START = /^(?:Traceback \(most recent call last\):|.*\n\s+File ")/.freeze
  EXCEPTION_LINE = /\A([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault|[A-Z]\w*))(?::\s?(.*))?\z/.freeze
  MONTHS = %w[Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec].freeze

  module_function

  # Returns [event] to keep it, [] to drop it (a health probe).
  def transform(event)
    raw = event.get("message").to_s
    fields = {}
    result = parse(raw, fields, event)
    docker_time = event.get("@timestamp")
    event.set("[event][created]", docker_time.to_s) unless docker_time.nil?
    stream = event.get("stream")
    event.set("[labels][stream]", stream) if stream
    event.remove("stream")
    compose_service = event.get("[container][labels][com_docker_compose_service]")
    event.set("[labels][compose_service]", compose_service) if compose_service
    # Every Docker label of the container is not wanted in each line; the compose service is kept above.
    event.remove("[container][labels]")
    # Filebeat's, the beats input's and Logstash's own bookkeeping: not part of the document.
    %w[agent input ecs log.flags @version].each { |name| event.remove("[#{name.split('.').join('][')}]") }
    tags = Array(event.get("tags")) - BOOKKEEPING_TAGS
    tags.empty? ? event.remove("tags") : event.set("tags", tags)

    apply(event, result, fields)
    return [] if probe?(event)
    [event]
  end

  # Fills `fields` (ECS values found) and returns the line's remaining structured fields (for extra).
  def parse(raw, fields, event)
    text = raw.sub(/\s+\z/, "")
    if text.start_with?("{")
      begin
        data = JSON.parse(text)
        raise JSON::ParserError, "not an object" unless data.is_a?(Hash)
      rescue JSON::ParserError
        event.tag("_jsonparsefailure")
        fields["message"] = text
        return {}
      end
      fields["format"] = "json"
      return structured(expand(data), fields)
    end
    if (m = POSTGRESQL.match(text))
      # Filebeat joined the DETAIL/HINT/STATEMENT lines that follow; keep their text, not their prefix.
      message = m[4].gsub(POSTGRESQL_CONTINUATION, "\\1")
      fields.update("format" => "postgresql", "timestamp" => m[1], "pid" => m[2].to_i, "level" => m[3], "message" => message)
      return {}
    end
    if text.start_with?("Traceback (most recent call last):")
      # An uncaught exception: the interpreter's last words.
      fields.update("format" => "traceback", "level" => "error", "message" => text)
      return {}
    end
    if (m = REDIS.match(text))
      fields.update("format" => "redis", "pid" => m[1].to_i, "timestamp" => m[3], "level" => REDIS_LEVELS[m[4]], "message" => m[5])
      return { "role" => m[2] }
    end
    if (m = BRACKETED.match(text))
      fields.update("format" => "log4j", "timestamp" => m[1], "level" => m[2], "logger" => m[3], "message" => m[4])
      return {}
    end
    if (m = COLLECTOR_CONSOLE.match(text))
      fields.update("format" => "collector", "timestamp" => m[1], "level" => m[2], "message" => m[4])
      rest = { "caller" => m[3] }
      if m[5]
        begin
          rest.update(JSON.parse(m[5]))
        rescue JSON::ParserError
          rest["fields"] = m[5]
        end
      end
      return structured(expand(rest), fields, keep_message: true)
    end
    if LOGFMT_START.match?(text) && !text.include?("\n") && (pairs = logfmt(text))
      fields["format"] = "logfmt"
      return structured(expand(pairs), fields)
    end
    if (m = PYTHON_PLAIN.match(text))
      fields.update("format" => "python", "level" => m[1], "message" => m[3])
      fields["logger"] = m[2] if m[2]
      return {}
    end
    fields.update("format" => "plain", "message" => text)
    event.tag("_unstructured")
    {}
  end

  # logfmt (Prometheus, Alertmanager, the exporters, Grafana): key=value pairs, values quoted when needed.
  def logfmt(text)
    pairs = {}
    position = 0
    while position < text.length
      m = LOGFMT_PAIR.match(text, position)
      return nil if m.nil? || m.begin(0) != position || m[0].empty?
      value = m[2]
      value = value[1..-2].gsub(/\\(.)/) { { "n" => "\n", "t" => "\t" }.fetch(Regexp.last_match(1), Regexp.last_match(1)) } if value.start_with?('"')
      pairs[m[1]] = value
      position = m.end(0)
      position += 1 while position < text.length && text[position] == " "
    end
    pairs.empty? ? nil : pairs
  end

  # {"log.level": x, "log": {"logger": y}} -> {"log" => {"level" => x, "logger" => y}}
  def expand(data)
    result = {}
    data.each do |key, value|
      value = expand(value) if value.is_a?(Hash)
      path = key.to_s.split(".")
      path = [key.to_s] if path.empty? || path.any?(&:empty?)
      node = result
      path[0..-2].each do |part|
        node[part] = {} unless node[part].is_a?(Hash)
        node = node[part]
      end
      if node[path[-1]].is_a?(Hash) && value.is_a?(Hash)
        node[path[-1]] = deep_merge(node[path[-1]], value)
      else
        node[path[-1]] = value
      end
    end
    result
  end

  def deep_merge(left, right)
    left.merge(right) { |_key, a, b| a.is_a?(Hash) && b.is_a?(Hash) ? deep_merge(a, b) : b }
  end

  # Takes the ECS values out of a parsed line; what is left goes to `extra`.
  def structured(data, fields, keep_message: false)
    ALIASES.each do |name, paths|
      next if keep_message && name == "message"
      paths.each do |path|
        next unless data.key?(path[0]) # most aliases are absent: skip them cheaply
        value = dig(data, path)
        next if value.nil? || value.is_a?(Hash) || value.is_a?(Array)
        if name == "service" && PLACEHOLDER_SERVICES.include?(value.to_s)
          delete(data, path)
          next
        end
        next if name == "error_message" && value.to_s.empty?
        fields[name] ||= value
        delete(data, path)
      end
    end
    HTTP_FIELDS.each do |path, type|
      next unless data.key?(path[0])
      value = dig(data, path)
      next if value.nil?
      if type == :integer
        next unless value.is_a?(Integer) || value.to_s.match?(/\A\d+\z/)
        value = value.to_i
      elsif !value.is_a?(String)
        next
      end
      fields["http"] ||= {}
      fields["http"][path] = value
      delete(data, path)
    end
    FORMAT_KEYS.each { |path| delete(data, path) }
    data
  end

  def dig(data, path)
    path.reduce(data) { |node, key| node.is_a?(Hash) ? node[key] : nil }
  end

  # Removes a value and the objects it leaves empty.
  def delete(data, path)
    parents = [data]
    path[0..-2].each do |key|
      node = parents.last[key]
      return unless node.is_a?(Hash)
      parents << node
    end
    parents.last.delete(path[-1])
    (path.length - 2).downto(0) do |index|
      parents[index].delete(path[index]) if parents[index + 1].empty?
    end
  end

  def apply(event, extra, fields)
    message = fields["message"].to_s
    stack = fields["stack_trace"]&.to_s
    # A multiline event: the first line is the message, a Python traceback after it is the stack trace.
    if stack.nil? && message.include?("\n") && (index = message.index(TRACEBACK_START))
      index += 1 if message[index] == "\n"
      stack = message[index..].sub(/\s+\z/, "")
      message = message[0...index].sub(/\s+\z/, "")
      message = stack.lines.last.to_s.strip if message.empty?
    end
    event.set("message", message)
    if stack && !stack.empty?
      event.set("[error][stack_trace]", stack)
      last = stack.lines.reject { |line| line.strip.empty? }.last.to_s.strip
      if (m = EXCEPTION_LINE.match(last)) && !stack.equal?(fields["stack_trace"]&.to_s)
        fields["error_type"] ||= m[1]
        fields["error_message"] ||= m[2] if m[2]
      end
    end
    event.set("[error][type]", fields["error_type"].to_s) if fields["error_type"]
    event.set("[error][message]", fields["error_message"].to_s) if fields["error_message"]

    level = fields["level"]
    if level
      normalised = LEVELS[level.to_s.strip.downcase]
      if normalised
        event.set("[log][level]", normalised)
      else
        extra["level"] = level.to_s
        event.tag("_level_unknown")
      end
    end
    event.set("[log][logger]", fields["logger"].to_s) if fields["logger"] && !fields["logger"].to_s.empty?

    service = fields["service"]&.to_s
    service = event.get("[labels][compose_service]") if service.nil? || service.empty?
    event.set("[service][name]", service) if service && !service.empty?
    set_id(event, "[trace][id]", fields["trace"], 32, extra, "trace_id")
    set_id(event, "[span][id]", fields["span"], 16, extra, "span_id")
    if fields["pid"].is_a?(Integer) || fields["pid"].to_s.match?(/\A\d+\z/)
      event.set("[process][pid]", fields["pid"].to_i)
    elsif fields["pid"]
      extra["pid"] = fields["pid"].to_s
    end
    (fields["http"] || {}).each { |path, value| event.set("[#{path.join('][')}]", value) }

    dataset = fields["dataset"]&.to_s
    dataset = "#{service || 'unknown'}.log" if dataset.nil? || dataset.empty?
    event.set("[event][dataset]", dataset)

    if fields.key?("timestamp")
      parsed = timestamp(fields["timestamp"])
      if parsed
        event.set("[@metadata][timestamp]", parsed)
      else
        extra["timestamp"] = fields["timestamp"].to_s
        event.tag("_timestamp_unparsed")
      end
    end
    event.set("[extra]", cap_depth(extra, EXTRA_DEPTH)) unless extra.empty?
  end

  # `extra` is mapped flattened with depth_limit 20: Elasticsearch would refuse a deeper document
  # into the failure store, so deeper objects are kept as their JSON text instead.
  def cap_depth(value, depth)
    return value unless value.is_a?(Hash)
    return JSON.generate(value) if depth <= 0
    value.each_with_object({}) { |(key, child), out| out[key] = cap_depth(child, depth - 1) }
  end

  # Trace and span ids are lower-case hex of a fixed length (W3C); anything else stays in extra.
  def set_id(event, field, value, length, extra, key)
    return if value.nil?
    id = value.to_s.downcase
    if id.length == length && HEX_ID.match?(id) && id != "0" * length
      event.set(field, id)
    else
      extra[key] = value.to_s
    end
  end

  # The line's own time as ISO 8601 UTC, keeping its precision (ms at least), or nil.
  def timestamp(value)
    time = case value
           when Integer then value > 100_000_000_000 ? Time.at(value / 1000, value % 1000 * 1000, :usec) : Time.at(value)
           when Float then Time.at(value)
           else parse_time(value.to_s.strip)
           end
    return nil if time.nil?
    digits = value.is_a?(Float) ? 6 : fraction_digits(value)
    time.utc.iso8601(digits)
  rescue ArgumentError, RangeError
    nil
  end

  def fraction_digits(value)
    fraction = value.to_s[/[.,](\d+)/, 1]
    return 3 if fraction.nil? || fraction.length <= 3
    fraction.length <= 6 ? 6 : 9
  end

  def parse_time(text)
    case text
    when /\A\d{10}(?:\.\d+)?\z/ then Time.at(text.to_r)
    when /\A\d{13}\z/ then Time.at(text.to_i / 1000, text.to_i % 1000 * 1000, :usec)
    when /\A(\d\d) (#{MONTHS.join('|')}) (\d{4}) (\d\d):(\d\d):(\d\d)(\.\d+)?\z/o
      # Redis writes local time without a zone; the containers run in UTC.
      Time.utc(Regexp.last_match(3).to_i, MONTHS.index(Regexp.last_match(2)) + 1, Regexp.last_match(1).to_i,
               Regexp.last_match(4).to_i, Regexp.last_match(5).to_i, Regexp.last_match(6).to_r + (Regexp.last_match(7) || "0").to_r)
    when /\A(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d+))? ?(Z|UTC|GMT|[+-]\d\d:?\d\d)?\z/
      zone = Regexp.last_match(4)
      zone = "Z" if zone.nil? || %w[UTC GMT].include?(zone)
      zone = "#{zone[0, 3]}:#{zone[3, 2]}" if zone.match?(/\A[+-]\d{4}\z/)
      fraction = Regexp.last_match(3) ? ".#{Regexp.last_match(3)}" : ""
      Time.iso8601("#{Regexp.last_match(1)}T#{Regexp.last_match(2)}#{fraction}#{zone}")
    end
  end

  def probe?(event)
    agent = event.get("[user_agent][original]")
    !agent.nil? && PROBE_AGENT.match?(agent.to_s)
  end
end

# The ruby filter's script API: register once, then filter each event.
def register(_params); end

def filter(event)
  ObsstackEcs.transform(event)
end
