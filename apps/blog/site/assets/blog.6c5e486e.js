// MyBlog.com: the home page (#posts, #subscribe) and the post page (#post).
// API data only ever goes in through textContent and attributes: never as HTML.
"use strict";

const PHOTO = /^thumbnails\/[A-Za-z0-9/_.-]+$/;
const PAGE_SIZE = 10;

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// The JSON answer of the API; an ApiError with the API's own message ({"message": ...}) otherwise.
async function api(path, init = {}) {
  let res;
  try {
    res = await fetch("/api" + path, { ...init, headers: { accept: "application/json", ...init.headers } });
  } catch {
    throw new ApiError("The blog could not be reached. Check your connection and try again.", 0);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // not JSON (e.g. an error page from the edge)
  }
  if (!res.ok) {
    const message = data && typeof data.message === "string" && data.message ? data.message
      : `The blog answered with an error (HTTP ${res.status}).`;
    throw new ApiError(message, res.status);
  }
  if (data === null || typeof data !== "object") {
    throw new ApiError("The blog gave an unexpected answer.", res.status);
  }
  return data;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child); // strings become text nodes
  }
  return node;
}

function dateText(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso ?? "");
  return d.toLocaleDateString("en", { year: "numeric", month: "long", day: "numeric" });
}

function timeEl(iso) {
  return el("time", { datetime: String(iso ?? "") }, dateText(iso));
}

function photoUrl(photo) {
  return typeof photo === "string" && PHOTO.test(photo) && !photo.split("/").includes("..") ? "/" + photo : null;
}

function setStatus(node, text, isError = false) {
  node.textContent = text;
  node.classList.toggle("error", isError);
  node.hidden = !text;
}

// -- the home page

function postCard(p) {
  const href = "/post.html?slug=" + encodeURIComponent(p.slug);
  const excerpt = String(p.excerpt ?? "");
  const text = el("div", { class: "post-text" },
    el("h2", {}, el("a", { href }, String(p.title ?? ""))),
    el("p", { class: "meta" }, "By ", String(p.author ?? "someone"), " · ", timeEl(p.created_at)),
    el("p", { class: "excerpt" }, excerpt.length >= 200 ? excerpt + "…" : excerpt));
  const src = photoUrl(p.photo);
  const img = src ? el("img", {
    class: "thumb", src, alt: `Photo for “${String(p.title ?? "")}”`,
    width: "160", height: "120", loading: "lazy", decoding: "async",
  }) : null;
  return el("article", { class: "post" }, text, img);
}

function initHome(list) {
  const status = document.getElementById("posts-status");
  const more = document.getElementById("more");
  let nextToken = null;

  async function load() {
    more.disabled = true;
    try {
      let added = 0;
      for (let pages = 0; pages < 5 && !added; pages++) { // a page may come back empty, with more after it
        const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
        if (nextToken) query.set("next_token", nextToken);
        const data = await api("/posts?" + query);
        const posts = Array.isArray(data.posts) ? data.posts : [];
        status.before(...posts.map(postCard)); // the status line stays last in the list
        added += posts.length;
        nextToken = typeof data.next_token === "string" && data.next_token ? data.next_token : null;
        if (!nextToken) break;
      }
      setStatus(status, list.querySelector("article.post") ? "" : "No posts yet.");
    } catch (err) {
      setStatus(status, "Sorry, the posts could not be loaded: " + err.message, true);
    } finally {
      more.hidden = !nextToken;
      more.disabled = false;
    }
  }

  more.addEventListener("click", load);
  load();
}

function initSubscribe(form) {
  const result = document.getElementById("subscribe-result");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = form.elements.email.value.trim();
    button.disabled = true;
    result.className = "result";
    result.textContent = "Subscribing…";
    try {
      const data = await api("/subscribe", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email }),
      });
      const who = typeof data.subscribed === "string" ? data.subscribed : email;
      result.textContent = `Thanks! A welcome mail is on its way to ${who}.`;
      result.className = "result ok";
      form.reset();
    } catch (err) {
      result.textContent = err.message;
      result.className = "result error";
    } finally {
      button.disabled = false;
    }
  });
}

// -- the post page

function paragraphs(body) {
  return String(body ?? "").split(/\r?\n[ \t]*\r?\n/).map((s) => s.trim()).filter(Boolean)
    .map((s) => el("p", {}, s));
}

async function initPost(article) {
  const title = document.getElementById("title");
  const meta = document.getElementById("meta");
  const body = document.getElementById("body");
  const slug = new URLSearchParams(location.search).get("slug") || "";

  function fail(heading, message) {
    title.textContent = heading;
    document.title = heading + " — MyBlog.com";
    meta.textContent = "";
    body.replaceChildren(el("p", { class: "status error" }, message));
  }

  if (!slug) {
    fail("No such post", "This link names no post.");
    return;
  }
  try {
    const p = await api("/posts/" + encodeURIComponent(slug));
    const name = String(p.title ?? "");
    title.textContent = name;
    document.title = name + " — MyBlog.com";
    meta.replaceChildren("By ", String(p.author ?? "someone"), " · ", timeEl(p.created_at));
    if (p.updated_at && p.updated_at !== p.created_at && dateText(p.updated_at) !== dateText(p.created_at)) {
      meta.append(" · updated ", timeEl(p.updated_at));
    }
    const src = photoUrl(p.photo);
    if (src) {
      meta.after(el("img", { class: "photo", id: "photo", src, alt: `Photo for “${name}”`, width: "320", height: "240" }));
    }
    const paras = paragraphs(p.body);
    body.replaceChildren(...(paras.length ? paras : [el("p", { class: "status" }, "This post has no text.")]));
  } catch (err) {
    if (err.status === 404) fail("No such post", "There is no post at this address. It may have been deleted.");
    else fail("Sorry", "The post could not be loaded: " + err.message);
  }
  article.setAttribute("aria-busy", "false");
}

// -- which page this is

const postsList = document.getElementById("posts");
if (postsList) initHome(postsList);
const subscribeForm = document.getElementById("subscribe");
if (subscribeForm) initSubscribe(subscribeForm);
const postArticle = document.getElementById("post");
if (postArticle) initPost(postArticle);
