// GraphiQL for staff, with the token of the portal's sign-in (same origin, this tab's
// sessionStorage). Customers' tokens get no introspection, so GraphiQL is of no use to them.
const root = document.getElementById("graphiql");
const token = sessionStorage.getItem("token");

function notice(html) {
  root.innerHTML = `<p class="notice">${html}</p>`;
}

async function start() {
  if (!token) return notice('Sign in to <a href="/">the portal</a> with a staff token first: GraphiQL uses it.');
  const headers = { authorization: `Bearer ${token}` };
  const res = await fetch("/graphql", {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ query: "{ me { staffRoles } }" }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.data) return notice('That token was not accepted. <a href="/">Sign in again</a>.');
  if (body.data.me.staffRoles.length === 0) return notice('GraphiQL is for staff. <a href="/">Back to the portal</a>.');
  const fetcher = GraphiQL.createFetcher({ url: "/graphql", headers });
  const defaultQuery = "# The Directory's GraphQL API, as staff.\n{\n  me {\n    name\n    staffRoles\n  }\n  logHead {\n    position\n  }\n}\n";
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, { fetcher, defaultQuery }));
  // GraphiQL's editors are CodeMirror text areas with no label: name each for screen readers
  // as it appears (the query, the variables and headers, the result).
  const label = () => {
    for (const area of root.querySelectorAll(".CodeMirror textarea:not([aria-label])")) {
      const name = area.closest(".graphiql-query-editor") ? "Query"
        : area.closest(".graphiql-response") || area.readOnly ? "Result"
        : area.closest(".graphiql-editor-tool") ? "Variables and headers" : "Editor";
      area.setAttribute("aria-label", name);
    }
  };
  new MutationObserver(label).observe(root, { childList: true, subtree: true });
  label();
}

start();
