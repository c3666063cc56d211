// What no runtime test can show about Wdt.Net.dll, read from its metadata and IL under Mono:
//
//   1. Every [DllImport("wdt")] is cdecl. 32-bit Windows defaults P/Invoke to stdcall; with a
//      cdecl wdt.dll a stdcall declaration pops the arguments twice and corrupts the till's stack,
//      silently, and only in x86 processes (x64 has one convention, so the x64 runs cannot see it).
//   2. Every delegate handed to native code is [UnmanagedFunctionPointer(Cdecl)], for the same
//      reason in the other direction (the log callback).
//   3. No string crosses into wdt.dll through the marshaller: its imports take byte[] / IntPtr /
//      SafeHandle only, so the binding encodes and decodes UTF-8 itself. A `string` parameter
//      would be marshalled as ANSI, which is UTF-8 on .NET Core but the code page (GBK on a
//      Chinese till) on .NET Framework. Imports of other libraries (kernel32) that take strings
//      must say CharSet.Unicode or MarshalAs(LPWStr).
//   4. No IL anywhere calls a code-page conversion: Encoding.Default, Encoding.GetEncoding,
//      Marshal.PtrToStringAnsi/Auto, Marshal.StringTo*Ansi/Auto, or new string(sbyte*) (which
//      decodes with the ANSI code page on .NET Framework). And it does use UTF-8 (Encoding.UTF8
//      or new UTF8Encoding), so the check is not passing on an assembly that converts nothing.
//
//   mono InteropCheck.exe ASSEMBLY...      exit 0 when every rule holds, 1 otherwise
//
// Prints one line per finding ("BAD ...") and a summary per assembly.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.InteropServices;
using System.Text;

internal static class InteropCheck
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static |
                                     BindingFlags.Instance | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null))
        .ToDictionary(o => o.Value);

    private static int _bad;

    private static void Bad(string what)
    {
        _bad++;
        Console.WriteLine("BAD  " + what);
    }

    private static int Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.WriteLine("usage: InteropCheck.exe ASSEMBLY...");
            return 2;
        }
        foreach (string path in args)
            CheckAssembly(path);
        return _bad == 0 ? 0 : 1;
    }

    private static string Name(MethodBase m)
    {
        return m.DeclaringType.FullName + "." + m.Name;
    }

    private static bool IsStringLike(Type t)
    {
        if (t.IsByRef)
            t = t.GetElementType();
        return t == typeof(string) || t == typeof(StringBuilder) || t == typeof(char[]) || t == typeof(char) ||
               t == typeof(string[]);
    }

    private static bool IsAnsi(MarshalAsAttribute ma)
    {
        return ma != null && (ma.Value == UnmanagedType.LPStr || ma.Value == UnmanagedType.AnsiBStr ||
                              ma.Value == UnmanagedType.LPTStr || ma.Value == UnmanagedType.TBStr ||
                              ma.Value == UnmanagedType.ByValTStr);
    }

    private static void CheckAssembly(string path)
    {
        int badBefore = _bad;
        Assembly asm = Assembly.LoadFile(path);
        Type[] types;
        try
        {
            types = asm.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            Bad(path + ": cannot load every type: " + e.LoaderExceptions.FirstOrDefault());
            types = e.Types.Where(t => t != null).ToArray();
        }

        int wdtImports = 0, otherImports = 0, nativeDelegates = 0, methodsRead = 0, utf8Uses = 0;
        var delegatesToNative = new HashSet<Type>();

        foreach (Type t in types)
        {
            // ---- 2. delegates: any that declares a native calling convention must say cdecl
            var ufp = (UnmanagedFunctionPointerAttribute)Attribute.GetCustomAttribute(t, typeof(UnmanagedFunctionPointerAttribute));
            if (ufp != null)
            {
                nativeDelegates++;
                if (ufp.CallingConvention != CallingConvention.Cdecl)
                    Bad(t.FullName + ": [UnmanagedFunctionPointer(" + ufp.CallingConvention + ")], must be Cdecl");
                if (ufp.CharSet == CharSet.Ansi || ufp.CharSet == CharSet.Auto)
                    Bad(t.FullName + ": [UnmanagedFunctionPointer] CharSet." + ufp.CharSet);
            }

            foreach (MethodBase m in t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)))
            {
                // ---- 1 and 3. P/Invoke declarations
                if ((m.Attributes & MethodAttributes.PinvokeImpl) != 0)
                    CheckImport((MethodInfo)m, ref wdtImports, ref otherImports, delegatesToNative);

                // ---- 4. the IL
                MethodBody body;
                try
                {
                    body = m.GetMethodBody();
                }
                catch (Exception)
                {
                    body = null;
                }
                if (body == null)
                    continue;
                methodsRead++;
                foreach (MethodBase callee in Callees(m, body.GetILAsByteArray()))
                {
                    string ct = callee.DeclaringType == null ? "" : callee.DeclaringType.FullName;
                    string cn = callee.Name;
                    if (ct == "System.Text.Encoding" && cn == "get_UTF8" || ct == "System.Text.UTF8Encoding" && cn == ".ctor")
                        utf8Uses++;
                    string why = null;
                    if (ct == "System.Text.Encoding" && (cn == "get_Default" || cn == "GetEncoding"))
                        why = "Encoding." + cn.Replace("get_", "") + " (the ANSI code page on .NET Framework)";
                    else if (ct == "System.Runtime.InteropServices.Marshal" &&
                             (cn.StartsWith("PtrToStringAnsi") || cn.StartsWith("PtrToStringAuto") ||
                              cn.EndsWith("Ansi") || cn.EndsWith("Auto")))
                        why = "Marshal." + cn + " (ANSI)";
                    else if (ct == "System.String" && cn == ".ctor" &&
                             callee.GetParameters().Length > 0 && callee.GetParameters()[0].ParameterType == typeof(sbyte*))
                        why = "new string(sbyte*) (decodes with the ANSI code page on .NET Framework)";
                    if (why != null)
                        Bad(Name(m) + " calls " + why + "; decode and encode UTF-8 explicitly");
                }
            }
        }

        foreach (Type d in delegatesToNative)
        {
            var ufp = (UnmanagedFunctionPointerAttribute)Attribute.GetCustomAttribute(d, typeof(UnmanagedFunctionPointerAttribute));
            if (ufp == null)
                Bad(d.FullName + " is passed to wdt.dll without [UnmanagedFunctionPointer(CallingConvention.Cdecl)] (stdcall on x86)");
        }
        if (wdtImports == 0)
            Bad(path + ": no [DllImport(\"wdt\")] found: wrong assembly, or the check cannot read the imports");
        if (utf8Uses == 0)
            Bad(path + ": no use of Encoding.UTF8 or UTF8Encoding: the check would pass an assembly that converts nothing");

        Console.WriteLine("{0} {1}: {2} wdt imports, {3} other imports, {4} native delegates, " +
                          "{5} method bodies read, {6} UTF-8 uses: {7} problems",
            _bad == badBefore ? "ok  " : "FAIL", path, wdtImports, otherImports, nativeDelegates, methodsRead, utf8Uses,
            _bad - badBefore);
    }

    private static void CheckImport(MethodInfo m, ref int wdtImports, ref int otherImports, HashSet<Type> delegatesToNative)
    {
        var di = (DllImportAttribute)m.GetCustomAttributes(typeof(DllImportAttribute), false).FirstOrDefault();
        if (di == null)
        {
            Bad(Name(m) + ": P/Invoke whose DllImport cannot be read");
            return;
        }
        bool wdt = di.Value == "wdt" || di.Value == "wdt.dll" || di.Value == "libwdt" || di.Value == "libwdt.so";
        var parameters = m.GetParameters().ToList();
        var all = parameters.Select(p => new { Type = p.ParameterType, Provider = (ICustomAttributeProvider)p, What = "parameter " + p.Name })
            .Concat(new[] { new { Type = m.ReturnType, Provider = (ICustomAttributeProvider)m.ReturnParameter, What = "return value" } });
        if (wdt)
        {
            wdtImports++;
            if (di.CallingConvention != CallingConvention.Cdecl)
                Bad(Name(m) + ": [DllImport(\"" + di.Value + "\")] with CallingConvention." + di.CallingConvention +
                    ", must be Cdecl (wdt.dll exports cdecl; x86 would corrupt the stack)");
        }
        else
        {
            otherImports++;
        }
        foreach (var a in all)
        {
            var ma = (MarshalAsAttribute)a.Provider.GetCustomAttributes(typeof(MarshalAsAttribute), false).FirstOrDefault();
            if (IsAnsi(ma))
                Bad(Name(m) + ": " + a.What + " marshalled as " + ma.Value + " (ANSI)");
            if (IsStringLike(a.Type))
            {
                if (wdt)
                    Bad(Name(m) + ": " + a.What + " is " + a.Type.Name + "; wdt.dll takes UTF-8 bytes the binding encodes itself");
                else if (di.CharSet != CharSet.Unicode && !(ma != null && ma.Value == UnmanagedType.LPWStr))
                    Bad(Name(m) + ": " + a.What + " is " + a.Type.Name + " with CharSet." + di.CharSet + " (ANSI); say CharSet.Unicode");
            }
            Type pt = a.Type.IsByRef ? a.Type.GetElementType() : a.Type;
            if (typeof(Delegate).IsAssignableFrom(pt) && wdt)
                delegatesToNative.Add(pt);
        }
    }

    // Every method called, constructed or loaded (ldftn) by an IL body.
    private static IEnumerable<MethodBase> Callees(MethodBase m, byte[] il)
    {
        var found = new List<MethodBase>();
        int i = 0;
        while (i < il.Length)
        {
            short value = il[i++];
            if (value == 0xFE)
                value = (short)(0xFE00 | il[i++]);
            OpCode op;
            if (!OpCodesByValue.TryGetValue(value, out op))
            {
                Bad(Name(m) + ": unknown IL opcode 0x" + value.ToString("X") + " at " + (i - 1));
                return found;
            }
            int operand;
            switch (op.OperandType)
            {
                case OperandType.InlineNone: operand = 0; break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar: operand = 1; break;
                case OperandType.InlineVar: operand = 2; break;
                case OperandType.InlineI8:
                case OperandType.InlineR: operand = 8; break;
                case OperandType.InlineSwitch: operand = 4 + 4 * BitConverter.ToInt32(il, i); break;
                default: operand = 4; break;
            }
            if (op.OperandType == OperandType.InlineMethod)
            {
                int token = BitConverter.ToInt32(il, i);
                try
                {
                    Type[] typeArgs = m.DeclaringType.IsGenericType ? m.DeclaringType.GetGenericArguments() : null;
                    Type[] methodArgs = m.IsGenericMethod ? m.GetGenericArguments() : null;
                    found.Add(m.Module.ResolveMethod(token, typeArgs, methodArgs));
                }
                catch (Exception e)
                {
                    // An unresolved call could be the forbidden one: never pass silently.
                    Bad(Name(m) + ": cannot resolve a call (token 0x" + token.ToString("X8") + "): " + e.Message);
                }
            }
            i += operand;
        }
        return found;
    }
}
