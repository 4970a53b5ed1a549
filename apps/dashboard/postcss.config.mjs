// Tailwind CSS v4 runs as a single PostCSS plugin; theme tokens live in src/app/globals.css.
export default {
  plugins: { '@tailwindcss/postcss': {} },
};
