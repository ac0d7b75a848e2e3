// The SQL console: ClickHouse highlighting on CodeMirror's SQL mode, Ctrl+Enter to run (a run that
// is still going is polled by poll.js until it ends; then the page shows its stored result).
(function () {
  "use strict";
  var words = function (text) {
    var set = {};
    text.split(" ").forEach(function (w) { if (w) set[w.toLowerCase()] = true; });
    return set;
  };
  if (window.CodeMirror) {
    CodeMirror.defineMIME("text/x-clickhouse", {
      name: "sql",
      keywords: words("select from where group by order having limit offset with as and or not in is null like ilike " +
        "between case when then else end distinct union all join inner left right full cross outer on using " +
        "array asof any prewhere final sample over partition rows range preceding following unbounded current " +
        "row window interval desc asc nulls first last exists global totals cube rollup"),
      builtin: words("string lowcardinality nullable int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 " +
        "float64 decimal date date32 datetime datetime64 uuid map tuple bool"),
      atoms: words("true false null"),
      operatorChars: /^[*+\-%<>!=&|^\/]/,
      dateSQL: words("date time timestamp"),
      support: words("doubleQuote binaryNumber hexNumber commentHash commentSlashSlash"),
      hooks: {}
    });
  }
  var area = document.getElementById("sql");
  var form = document.getElementById("sql-form");
  var editor = null;
  if (area && window.CodeMirror) {
    editor = CodeMirror.fromTextArea(area, {
      mode: "text/x-clickhouse", lineNumbers: true, indentWithTabs: false, tabSize: 2,
      extraKeys: { "Ctrl-Enter": function () { editor.save(); form.requestSubmit(document.getElementById("run")); },
                   "Cmd-Enter": function () { editor.save(); form.requestSubmit(document.getElementById("run")); } }
    });
  }
  var save = document.getElementById("save-form");
  if (save) {
    save.addEventListener("submit", function () {
      if (editor) editor.save();
      document.getElementById("save-sql").value = area ? area.value : "";
    });
  }
})();
