// A deliberately small JSON reader, so the binding depends on nothing outside the base class
// library: System.Text.Json and Newtonsoft are packages, DataContractJsonSerializer needs a
// type per shape, and JavaScriptSerializer is .NET Framework only. It reads strict RFC 8259
// (which every envelope from libwdt is) into Dictionary / List / string / JsonNumber / bool /
// null, and is only used to read error envelopes; callers parse `data` with their own library.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Wdt
{
    /// <summary>A JSON number kept as its exact source text, so nothing is lost to double.</summary>
    internal sealed class JsonNumber
    {
        internal readonly string Text;

        internal JsonNumber(string text)
        {
            Text = text;
        }

        internal bool TryGetInt32(out int value)
        {
            return int.TryParse(Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        }

        public override string ToString()
        {
            return Text;
        }
    }

    internal sealed class JsonReader
    {
        // serde_json stops at depth 128; the limit here only has to keep a hostile document from
        // overflowing the stack, which in .NET kills the process instead of throwing.
        private const int MaxDepth = 512;

        private readonly string _s;
        private int _i;

        private JsonReader(string s)
        {
            _s = s;
        }

        /// <summary>Parses a whole document; throws FormatException on anything that is not JSON.</summary>
        internal static object Parse(string json)
        {
            if (json == null)
                throw new ArgumentNullException("json");
            var r = new JsonReader(json);
            r.SkipWs();
            object v = r.ReadValue(0);
            r.SkipWs();
            if (r._i != json.Length)
                throw r.Error("trailing characters after the JSON value");
            return v;
        }

        /// <summary>
        /// The exact source text of member <paramref name="name"/> of a top-level object, for
        /// handing <c>data</c> to the caller byte for byte. Null when the member is absent.
        /// </summary>
        internal static string MemberText(string json, string name)
        {
            var r = new JsonReader(json);
            r.SkipWs();
            r.Expect('{');
            string found = null;
            r.SkipWs();
            if (r.Peek() == '}')
            {
                r._i++;
            }
            else
            {
                while (true)
                {
                    r.SkipWs();
                    string key = r.ReadString();
                    r.SkipWs();
                    r.Expect(':');
                    r.SkipWs();
                    int start = r._i;
                    r.ReadValue(1);
                    if (key == name)
                        found = json.Substring(start, r._i - start); // last one wins, as in Parse
                    r.SkipWs();
                    if (r.Peek() == ',') { r._i++; continue; }
                    r.Expect('}');
                    break;
                }
            }
            r.SkipWs();
            if (r._i != json.Length)
                throw r.Error("trailing characters after the JSON value");
            return found;
        }

        /// <summary>The exact source text of each element of a JSON array, in order.</summary>
        internal static List<string> ElementTexts(string json)
        {
            var r = new JsonReader(json);
            var items = new List<string>();
            r.SkipWs();
            r.Expect('[');
            r.SkipWs();
            if (r.Peek() == ']')
            {
                r._i++;
            }
            else
            {
                while (true)
                {
                    r.SkipWs();
                    int start = r._i;
                    r.ReadValue(1);
                    items.Add(json.Substring(start, r._i - start));
                    r.SkipWs();
                    if (r.Peek() == ',') { r._i++; continue; }
                    r.Expect(']');
                    break;
                }
            }
            r.SkipWs();
            if (r._i != json.Length)
                throw r.Error("trailing characters after the JSON value");
            return items;
        }

        /// <summary>A JSON string literal for <paramref name="s"/> (quotes included).</summary>
        internal static string Quote(string s)
        {
            var sb = new System.Text.StringBuilder(s.Length + 2);
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    default:
                        if (c < 0x20)
                            sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                        else
                            sb.Append(c);
                        break;
                }
            }
            return sb.Append('"').ToString();
        }

        private object ReadValue(int depth)
        {
            if (depth > MaxDepth)
                throw Error("nested too deeply");
            char c = Peek();
            switch (c)
            {
                case '{': return ReadObject(depth + 1);
                case '[': return ReadArray(depth + 1);
                case '"': return ReadString();
                case 't': ReadLiteral("true"); return true;
                case 'f': ReadLiteral("false"); return false;
                case 'n': ReadLiteral("null"); return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9'))
                        return ReadNumber();
                    throw Error("unexpected character");
            }
        }

        private Dictionary<string, object> ReadObject(int depth)
        {
            Expect('{');
            var obj = new Dictionary<string, object>(StringComparer.Ordinal);
            SkipWs();
            if (Peek() == '}') { _i++; return obj; }
            while (true)
            {
                SkipWs();
                string key = ReadString();
                SkipWs();
                Expect(':');
                SkipWs();
                obj[key] = ReadValue(depth);
                SkipWs();
                if (Peek() == ',') { _i++; continue; }
                Expect('}');
                return obj;
            }
        }

        private List<object> ReadArray(int depth)
        {
            Expect('[');
            var list = new List<object>();
            SkipWs();
            if (Peek() == ']') { _i++; return list; }
            while (true)
            {
                SkipWs();
                list.Add(ReadValue(depth));
                SkipWs();
                if (Peek() == ',') { _i++; continue; }
                Expect(']');
                return list;
            }
        }

        private string ReadString()
        {
            Expect('"');
            StringBuilder sb = null;
            int runStart = _i;
            while (true)
            {
                if (_i >= _s.Length)
                    throw Error("unterminated string");
                char c = _s[_i];
                if (c == '"')
                {
                    string tail = _s.Substring(runStart, _i - runStart);
                    _i++;
                    return sb == null ? tail : sb.Append(tail).ToString();
                }
                if (c < 0x20)
                    throw Error("control character in string");
                if (c != '\\')
                {
                    _i++;
                    continue;
                }
                if (sb == null)
                    sb = new StringBuilder();
                sb.Append(_s, runStart, _i - runStart);
                _i++;
                if (_i >= _s.Length)
                    throw Error("unterminated escape");
                char e = _s[_i++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        // A \uD83D\uDE00 pair arrives as two escapes and a C# string is UTF-16,
                        // so appending each code unit as it comes rebuilds the pair exactly.
                        sb.Append(ReadHex4());
                        break;
                    default:
                        throw Error("invalid escape");
                }
                runStart = _i;
            }
        }

        private char ReadHex4()
        {
            if (_i + 4 > _s.Length)
                throw Error("truncated \\u escape");
            int v = 0;
            for (int k = 0; k < 4; k++)
            {
                char h = _s[_i++];
                int d;
                if (h >= '0' && h <= '9') d = h - '0';
                else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
                else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
                else throw Error("invalid \\u escape");
                v = (v << 4) | d;
            }
            return (char)v;
        }

        private JsonNumber ReadNumber()
        {
            int start = _i;
            if (Peek() == '-') _i++;
            if (Peek() == '0')
            {
                _i++;
            }
            else if (IsDigit(Peek()))
            {
                while (IsDigit(Peek())) _i++;
            }
            else
            {
                throw Error("invalid number");
            }
            if (Peek() == '.')
            {
                _i++;
                if (!IsDigit(Peek())) throw Error("invalid number");
                while (IsDigit(Peek())) _i++;
            }
            if (Peek() == 'e' || Peek() == 'E')
            {
                _i++;
                if (Peek() == '+' || Peek() == '-') _i++;
                if (!IsDigit(Peek())) throw Error("invalid number");
                while (IsDigit(Peek())) _i++;
            }
            return new JsonNumber(_s.Substring(start, _i - start));
        }

        private void ReadLiteral(string word)
        {
            if (string.CompareOrdinal(_s, _i, word, 0, word.Length) != 0)
                throw Error("invalid literal");
            _i += word.Length;
        }

        private static bool IsDigit(char c)
        {
            return c >= '0' && c <= '9';
        }

        // '\0' stands for end of input; a real NUL can never be valid at the places we peek.
        private char Peek()
        {
            return _i < _s.Length ? _s[_i] : '\0';
        }

        private void Expect(char c)
        {
            if (Peek() != c)
                throw Error("expected '" + c + "'");
            _i++;
        }

        private void SkipWs()
        {
            while (_i < _s.Length)
            {
                char c = _s[_i];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                    return;
                _i++;
            }
        }

        private FormatException Error(string what)
        {
            return new FormatException("json: " + what + " at offset " + _i.ToString(CultureInfo.InvariantCulture));
        }
    }
}
