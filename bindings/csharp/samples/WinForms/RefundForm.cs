// A quick-return (快速退货) form for a WinForms till, written the way the README tells a POS
// developer to: one client for the whole program, config errors shown to the cashier instead of
// crashing later, the button disabled while a return is in flight so a second click cannot send
// it twice, and the outcome in plain Chinese: 已提交 / 未提交 / 未知，请勿重复提交.
// Compiled by bindings/csharp/test.sh and scripts/test-nuget.sh (mcs + Mono's WinForms);
// not run there (no display).

using System;
using System.Drawing;
using System.IO;
using System.Windows.Forms;
using Wdt;

namespace WdtSample
{
    public sealed class RefundForm : Form
    {
        private readonly TextBox _tid = new TextBox { Text = "pos-6776312", Width = 200 };
        private readonly TextBox _spec = new TextBox { Text = "RRWDMS018040S", Width = 200 };
        private readonly NumericUpDown _num = new NumericUpDown { Minimum = 1, Maximum = 9999, Value = 1 };
        private readonly Button _submit = new Button { Text = "提交退货", Width = 120 };
        private readonly Label _status = new Label { AutoSize = false, Width = 420, Height = 80 };
        private WdtClient _wdt; // shared by every click: thread-safe, keeps the connection pool

        public RefundForm()
        {
            Text = "快速退货";
            ClientSize = new Size(460, 260);
            var grid = new TableLayoutPanel { Dock = DockStyle.Fill, ColumnCount = 2, Padding = new Padding(10) };
            grid.Controls.Add(new Label { Text = "原始单号", AutoSize = true });
            grid.Controls.Add(_tid);
            grid.Controls.Add(new Label { Text = "商家编码", AutoSize = true });
            grid.Controls.Add(_spec);
            grid.Controls.Add(new Label { Text = "数量", AutoSize = true });
            grid.Controls.Add(_num);
            grid.Controls.Add(_submit);
            grid.Controls.Add(_status);
            Controls.Add(grid);
            Load += OnLoad;
            FormClosed += (s, e) => { if (_wdt != null) _wdt.Dispose(); };
            _submit.Click += OnSubmit;
        }

        private void OnLoad(object sender, EventArgs e)
        {
            try
            {
                // wdt.json next to the .exe: {"sid":…,"appkey":…,"appsecret":"secret:salt","env":"test"}
                string path = Path.Combine(AppDomain.CurrentDomain.BaseDirectory, "wdt.json");
                _wdt = new WdtClient(File.ReadAllText(path));
                _status.Text = "就绪（libwdt " + WdtClient.Version + "）";
            }
            catch (WdtException ex) // config errors (Field names the key) or no wdt.dll for this bitness
            {
                ShowConfigError(ex.Message + (ex.Field != null ? "（" + ex.Field + "）" : "") +
                    (ex.Hint != null ? "\n" + ex.Hint : ""));
            }
            catch (IOException ex)
            {
                ShowConfigError("读不到 wdt.json：" + ex.Message);
            }
            catch (UnauthorizedAccessException ex)
            {
                ShowConfigError("读不到 wdt.json：" + ex.Message);
            }
        }

        private void ShowConfigError(string text)
        {
            _submit.Enabled = false; // nothing to send with: never reach a null client
            _status.Text = "配置错误：" + text;
            MessageBox.Show(this, text, "旺店通配置错误", MessageBoxButtons.OK, MessageBoxIcon.Error);
        }

        // async void is right for an event handler; everything that can throw is caught inside.
        private async void OnSubmit(object sender, EventArgs e)
        {
            if (_wdt == null)
                return;
            _submit.Enabled = false; // one return in flight at a time
            _status.Text = "提交中…";
            try
            {
                string envelope = await _wdt.SmartRefundUploadAsync(BuildRequest());
                // Back on the UI thread here: await resumes on the form's context.
                _status.Text = Describe(envelope);
            }
            catch (ArgumentException ex) // text that cannot be sent as written; nothing was sent
            {
                _status.Text = "未提交：" + ex.Message;
            }
            catch (ObjectDisposedException)
            {
                _status.Text = "未提交：程序正在关闭";
            }
            finally
            {
                _submit.Enabled = true;
            }
        }

        /// <summary>The envelope in words a cashier acts on.</summary>
        internal static string Describe(string envelope)
        {
            try
            {
                WdtException.ThrowIfError(envelope);
                return "已提交：退货入库单已创建";
            }
            catch (WdtException ex)
            {
                string why = ex.Message + (ex.Hint != null ? "\n" + ex.Hint : "");
                if (ex.Delivery == WdtDelivery.Unknown)
                    return "未知，请勿重复提交：请先在 ERP 中查询这笔退货\n" + why;
                if (ex.Delivery == WdtDelivery.Rejected)
                    return "未提交：网关拒绝了这笔退货\n" + why;
                return "未提交：" + why; // not_sent: nothing left the till
            }
        }

        private string BuildRequest()
        {
            // Real code: build this with a JSON library; free text (remarks) must be escaped.
            return "{\"refundInfo\":{\"tid\":\"" + Escape(_tid.Text) + "\",\"return_warehouse_no\":\"pos\",\"remark\":\"POS 退货\"}," +
                "\"detailMapList\":[{\"spec_no\":\"" + Escape(_spec.Text) + "\",\"stockin_num\":" + (int)_num.Value + ",\"remark\":\"\"}]," +
                "\"createPreStockin\":false}";
        }

        private static string Escape(string s)
        {
            return s.Replace("\\", "\\\\").Replace("\"", "\\\"");
        }

        [STAThread]
        private static void Main()
        {
            Application.EnableVisualStyles();
            Application.Run(new RefundForm());
        }
    }
}
