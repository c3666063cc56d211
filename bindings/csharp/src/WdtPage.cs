// One page of a paged call, as WdtClient.Pages walks them.

using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace Wdt
{
    /// <summary>One page of a paged call (see <see cref="WdtClient.Pages"/>).</summary>
    public sealed class WdtPage
    {
        private WdtPage()
        {
        }

        /// <summary>The page number sent as <c>page_no</c>, from 0.</summary>
        public int PageNo { get; private set; }

        /// <summary>The <c>total_count</c> the gateway reported on page 0 (null only if it gave none).</summary>
        public long? TotalCount { get; internal set; }

        /// <summary>The JSON text of this page's <c>data</c>, byte for byte.</summary>
        public string DataJson { get; private set; }

        /// <summary>The JSON text of each item of the page's item array, in order.</summary>
        public IList<string> Items { get; private set; }

        /// <summary>The whole envelope of this page.</summary>
        public string EnvelopeJson { get; private set; }

        internal static WdtPage FromEnvelope(int pageNo, string envelope, string itemsKey)
        {
            string data = JsonReader.MemberText(envelope, "data") ?? "null";
            long? total = ReadLong(JsonReader.MemberText(envelope, "total_count"));
            var dataObj = JsonReader.Parse(data) as Dictionary<string, object>;
            if (total == null && dataObj != null && dataObj.ContainsKey("total_count"))
                total = ReadLong(JsonReader.MemberText(data, "total_count"));
            List<string> items;
            if (dataObj == null)
            {
                items = new List<string>(); // "data": null is how the gateway says "no rows"
            }
            else
            {
                string key = itemsKey;
                if (key == null)
                {
                    foreach (var kv in dataObj)
                    {
                        if (!(kv.Value is List<object>))
                            continue;
                        if (key != null)
                            throw new WdtException(WdtErrorKind.BadResponse,
                                "data has several arrays (" + key + ", " + kv.Key + "): pass itemsKey to Pages/Items",
                                envelopeJson: envelope);
                        key = kv.Key;
                    }
                }
                string arr = key == null ? null : JsonReader.MemberText(data, key);
                items = arr == null || arr == "null" ? new List<string>() : JsonReader.ElementTexts(arr);
            }
            return new WdtPage
            {
                PageNo = pageNo,
                TotalCount = total,
                DataJson = data,
                Items = new ReadOnlyCollection<string>(items),
                EnvelopeJson = envelope,
            };
        }

        private static long? ReadLong(string text)
        {
            long v;
            if (text == null)
                return null;
            text = text.Trim().Trim('"'); // some gateway versions send counts as strings
            return long.TryParse(text, System.Globalization.NumberStyles.Integer,
                System.Globalization.CultureInfo.InvariantCulture, out v) ? v : (long?)null;
        }
    }

    /// <summary>One log line of <see cref="WdtClient.Log"/>.</summary>
    public sealed class WdtLogEventArgs : EventArgs
    {
        /// <summary>Creates the event data.</summary>
        public WdtLogEventArgs(string line)
        {
            Line = line;
        }

        /// <summary>The line (UTF-8 from libwdt, never containing the secret).</summary>
        public string Line { get; private set; }
    }
}
