<?xml version='1.0' encoding='UTF-8'?>
<!-- Renders the draft to one HTML page (make xep). Our own small
     stylesheet; the XSF's is not packaged in Debian. -->
<xsl:stylesheet version='1.0' xmlns:xsl='http://www.w3.org/1999/XSL/Transform'>
  <xsl:output method='html' encoding='UTF-8' indent='yes'/>
  <xsl:template match='/xep'>
    <html>
      <head>
        <title><xsl:value-of select='header/title'/></title>
        <style>
          body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 1.4 }
          pre { background: #f4f4f4; padding: .6em; overflow-x: auto }
          table { border-collapse: collapse; margin: 1em 0 }
          td, th { border: 1px solid #bbb; padding: .2em .5em; vertical-align: top }
          caption, .caption { font-weight: bold; text-align: left }
        </style>
      </head>
      <body>
        <h1><xsl:value-of select='header/title'/></h1>
        <p><em><xsl:value-of select='header/abstract'/></em></p>
        <table>
          <tr><th>Number</th><td><xsl:value-of select='header/number'/></td></tr>
          <tr><th>Status</th><td><xsl:value-of select='header/status'/></td></tr>
          <tr><th>Type</th><td><xsl:value-of select='header/type'/></td></tr>
          <tr><th>Version</th><td><xsl:value-of select='header/revision[1]/version'/>
            (<xsl:value-of select='header/revision[1]/date'/>)</td></tr>
          <tr><th>Dependencies</th><td>
            <xsl:for-each select='header/dependencies/spec'>
              <xsl:value-of select='.'/><xsl:if test='position() != last()'>, </xsl:if>
            </xsl:for-each></td></tr>
        </table>
        <h2>Table of contents</h2>
        <ol>
          <xsl:for-each select='section1'>
            <li><a href='#{@anchor}'><xsl:value-of select='@topic'/></a></li>
          </xsl:for-each>
        </ol>
        <xsl:apply-templates select='section1'/>
      </body>
    </html>
  </xsl:template>
  <xsl:template match='section1'>
    <h2 id='{@anchor}'><xsl:number/>. <xsl:value-of select='@topic'/></h2>
    <xsl:apply-templates/>
  </xsl:template>
  <xsl:template match='section2'>
    <h3 id='{@anchor}'><xsl:number level='multiple' count='section1|section2'/>
      <xsl:text> </xsl:text><xsl:value-of select='@topic'/></h3>
    <xsl:apply-templates/>
  </xsl:template>
  <xsl:template match='section3'>
    <h4 id='{@anchor}'><xsl:value-of select='@topic'/></h4>
    <xsl:apply-templates/>
  </xsl:template>
  <xsl:template match='p'><p><xsl:apply-templates/></p></xsl:template>
  <xsl:template match='ul'><ul><xsl:apply-templates/></ul></xsl:template>
  <xsl:template match='ol'><ol><xsl:apply-templates/></ol></xsl:template>
  <xsl:template match='li'><li><xsl:apply-templates/></li></xsl:template>
  <xsl:template match='tt'><code><xsl:apply-templates/></code></xsl:template>
  <xsl:template match='em'><em><xsl:apply-templates/></em></xsl:template>
  <xsl:template match='strong'><strong><xsl:apply-templates/></strong></xsl:template>
  <xsl:template match='link'><a href='{@url}'><xsl:apply-templates/></a></xsl:template>
  <xsl:template match='table'>
    <table>
      <xsl:if test='@caption'><caption><xsl:value-of select='@caption'/></caption></xsl:if>
      <xsl:apply-templates/>
    </table>
  </xsl:template>
  <xsl:template match='tr'><tr><xsl:apply-templates/></tr></xsl:template>
  <xsl:template match='th'><th><xsl:apply-templates/></th></xsl:template>
  <xsl:template match='td'><td><xsl:apply-templates/></td></xsl:template>
  <xsl:template match='example'>
    <p class='caption'>Example <xsl:number level='any'/>. <xsl:value-of select='@caption'/></p>
    <pre><xsl:value-of select='.'/></pre>
  </xsl:template>
  <xsl:template match='code'>
    <xsl:if test='@caption'><p class='caption'><xsl:value-of select='@caption'/></p></xsl:if>
    <pre><xsl:value-of select='.'/></pre>
  </xsl:template>
</xsl:stylesheet>
