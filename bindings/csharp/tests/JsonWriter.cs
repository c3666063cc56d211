// Test-side JSON writer: turns fixture values (parsed by the binding's own reader, compiled in
// from ../src/Json.cs) back into request and config text. Numbers keep their source text, so
// a fixture's 1.5 or 99 reaches libwdt exactly as written in cases.json.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Wdt;

namespace WdtTests
{
    internal static class JsonWriter
    {
        internal static string Write(object v)
        {
            var sb = new StringBuilder();
            Write(sb, v);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, object v)
        {
            if (v == null) { sb.Append("null"); return; }
            if (v is bool) { sb.Append((bool)v ? "true" : "false"); return; }
            if (v is JsonNumber) { sb.Append(((JsonNumber)v).Text); return; }
            if (v is int) { sb.Append(((int)v).ToString(CultureInfo.InvariantCulture)); return; }
            var s = v as string;
            if (s != null) { WriteString(sb, s); return; }
            var o = v as Dictionary<string, object>;
            if (o != null)
            {
                sb.Append('{');
                bool first = true;
                foreach (var kv in o)
                {
                    if (!first) sb.Append(',');
                    first = false;
                    WriteString(sb, kv.Key);
                    sb.Append(':');
                    Write(sb, kv.Value);
                }
                sb.Append('}');
                return;
            }
            var a = v as List<object>;
            if (a != null)
            {
                sb.Append('[');
                for (int i = 0; i < a.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    Write(sb, a[i]);
                }
                sb.Append(']');
                return;
            }
            throw new ArgumentException("cannot write " + v.GetType());
        }

        // Non-ASCII stays literal: that is what a till sends, and it exercises the UTF-8 path.
        private static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20)
                            sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }
    }
}
